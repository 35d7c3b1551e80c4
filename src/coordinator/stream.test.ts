import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { type NodeView, type StreamFrame, streamFrameSchema } from "../protocol/api.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { Coordinator } from "./coordinator.ts";
import { get, Signer, startTestCoordinator, submit, testIdentity, waitFor } from "./test-kit.ts";

const provider = testIdentity("stream-provider");
const requester = testIdentity("stream-requester");

function listen(coordinator: Coordinator, query: string) {
  const frames: Array<{ frame: StreamFrame; at: number }> = [];
  const ws = new WebSocket(`${coordinator.url.replace(/^http/, "ws")}/v1/stream${query}`);
  ws.on("message", (data) =>
    frames.push({ frame: streamFrameSchema.parse(JSON.parse(String(data))), at: performance.now() }),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, frames, opened };
}

async function onboard(coordinator: Coordinator, signer: Signer): Promise<void> {
  await submit(coordinator.url, signer.sign(provider, "faucet", { amount: 100_000_000n }));
  await submit(
    coordinator.url,
    signer.sign(provider, "registerNode", {
      name: "sin-gpu-1",
      city: "Singapore",
      country: "SG",
      jurisdictions: ["SG"],
      latE6: 1_352_100,
      lonE6: 103_819_800,
      resourceClass: "gpu",
      capacity: 4,
      throughput: 30_000,
    }),
  );
  await submit(coordinator.url, signer.sign(provider, "bond", { amount: 10_000_000n }));
  await submit(
    coordinator.url,
    signer.sign(provider, "postOffer", { resourceClass: "gpu", capacity: 4, pricePerUnitSecond: 500n }),
  );
  await submit(coordinator.url, signer.sign(requester, "faucet", { amount: 10_000_000n }));
}

const job = {
  stages: [
    {
      name: "s",
      program: "mlp-train",
      resourceClass: "gpu",
      units: 1,
      seconds: 5,
      maxPricePerUnitSecond: 1_000n,
    },
  ],
  budget: 100_000n,
};

describe("/v1/stream", () => {
  test("a provider's stream records when it was last seen, shown in its node view", async () => {
    const coordinator = await startTestCoordinator();
    try {
      await onboard(coordinator, new Signer(coordinator.net));
      const before = await get<{ nodes: NodeView[] }>(coordinator.url, "/v1/nodes");
      assert.equal(before.body.nodes[0]?.lastSeen, undefined, "never connected");
      const s = listen(coordinator, `?provider=${provider.publicKey}`);
      await s.opened;
      const seen = await waitFor(
        "lastSeen",
        async () => (await get<{ nodes: NodeView[] }>(coordinator.url, "/v1/nodes")).body.nodes[0]?.lastSeen,
      );
      assert.ok(seen > 0);
      s.ws.close();
    } finally {
      await coordinator.stop();
    }
  });

  test("emulated latency delays what is pushed to a provider by its one-way time", async () => {
    const oneWayMs = 150;
    const delayed = new Set<PublicKeyHex>([provider.publicKey]);
    const coordinator = await startTestCoordinator({
      emulation: { oneWayMsTo: (key) => (delayed.has(key) ? oneWayMs : 0) },
    });
    try {
      const signer = new Signer(coordinator.net);
      await onboard(coordinator, signer);
      const s = listen(coordinator, `?provider=${provider.publicKey}`);
      await s.opened;
      const sentAt = performance.now();
      await submit(coordinator.url, signer.sign(requester, "submitJob", job as never));
      const assignment = await waitFor("the assignment", () =>
        s.frames.find((f) => f.frame.type === "assignment"),
      );
      assert.ok(
        assignment.at - sentAt >= oneWayMs,
        `arrived ${assignment.at - sentAt} ms after the job was sent`,
      );
      s.ws.close();
    } finally {
      await coordinator.stop();
    }
  });

  test("a follower without a filter receives every durable event, in log order, with its hash", async () => {
    const coordinator = await startTestCoordinator();
    try {
      const follower = listen(coordinator, "");
      await follower.opened;
      const signer = new Signer(coordinator.net);
      await onboard(coordinator, signer);
      const head = coordinator.head().seq;
      await waitFor("every event", () =>
        follower.frames.filter((f) => f.frame.type === "event").length >= head ? true : undefined,
      );
      // The ticker may sequence a tick of its own (a price epoch starts with the first offer), so
      // compare the first `head` events, and the messages among them.
      const events = follower.frames
        .flatMap((f) => (f.frame.type === "event" ? [f.frame] : []))
        .filter((e) => e.seq <= head);
      const { body } = await get<{ events: Array<{ seq: number; hash: string }> }>(
        coordinator.url,
        "/v1/events?from=1",
      );
      assert.deepEqual(
        events.map((e) => [e.seq, e.hash]),
        body.events.filter((e) => e.seq <= head).map((e) => [e.seq, e.hash]),
      );
      assert.deepEqual(
        events.map((e) => e.kind).filter((k) => k !== "tick"),
        ["faucet", "registerNode", "bond", "postOffer", "faucet"],
      );
      follower.ws.close();
    } finally {
      await coordinator.stop();
    }
  });

  test("a reconnecting provider is sent its open assignments at once", async () => {
    const coordinator = await startTestCoordinator();
    try {
      const signer = new Signer(coordinator.net);
      await onboard(coordinator, signer);
      await submit(coordinator.url, signer.sign(requester, "submitJob", job as never));
      const s = listen(coordinator, `?provider=${provider.publicKey}`);
      await s.opened;
      const frame = await waitFor(
        "the open assignment",
        () => s.frames.find((f) => f.frame.type === "assignment")?.frame,
      );
      assert.equal(frame.type === "assignment" && frame.assignment.stage, "s");
      assert.equal(s.frames[0]?.frame.type, "hello", "hello comes first");
      s.ws.close();
    } finally {
      await coordinator.stop();
    }
  });
});
