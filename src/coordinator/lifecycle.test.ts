/**
 * A whole stage lifecycle over the network, with signed messages and verified receipts: register,
 * bond, offer, submit a two-stage job, start, commit, settle by tick, and the second stage placed
 * with its input's source — over HTTP, while a provider stream and a job stream watch. Run against
 * every store: memory, PGlite, and PostgreSQL when SWITCHYARD_TEST_PG is set.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import pg from "pg";
import WebSocket from "ws";
import {
  type Account,
  type Assignment,
  accountSchema,
  assignmentSchema,
  type JobView,
  jobViewSchema,
  marketSchema,
  nodeViewSchema,
  type Receipt,
  type StreamFrame,
  statusSchema,
  streamFrameSchema,
} from "../protocol/api.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { JobId } from "../protocol/ids.ts";
import type { EventStore } from "../store/event-store.ts";
import { pgliteEventStore } from "../store/pglite-event-store.ts";
import { postgresEventStore } from "../store/postgres-event-store.ts";
import { verifyReceipt } from "./receipts.ts";
import { get, Signer, startTestCoordinator, submit, testIdentity, waitFor } from "./test-kit.ts";

const provider = testIdentity("provider-fra");
const requester = testIdentity("requester");
const endpoint = "http://127.0.0.1:9901/";
const price = 600n;
const stage = (name: string, after: string[] = []) => ({
  name,
  program: "mlp-train",
  resourceClass: "gpu",
  units: 2,
  seconds: 10,
  maxPricePerUnitSecond: 1_000n,
  after,
});

/** Frames received on a stream, with a way to wait for one. */
function watch(url: string) {
  const frames: StreamFrame[] = [];
  const ws = new WebSocket(url);
  ws.on("message", (data) => frames.push(streamFrameSchema.parse(JSON.parse(String(data)))));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    frames,
    opened,
    until: <T extends StreamFrame>(what: string, match: (f: StreamFrame) => f is T) =>
      waitFor(what, () => frames.find(match)),
    close: () => ws.close(),
  };
}

async function lifecycle(store: () => EventStore | string): Promise<void> {
  const coordinator = await startTestCoordinator({
    store: store(),
    params: { verificationWindowMs: 100 },
  });
  const base = coordinator.url;
  const stream = base.replace(/^http/, "ws");
  const signer = new Signer(coordinator.net);
  const receipts: Receipt[] = [];
  const send = async (...args: Parameters<Signer["sign"]>) => {
    const receipt = await submit(base, signer.sign(...args));
    receipts.push(receipt);
    return receipt;
  };
  try {
    const providerStream = watch(`${stream}/v1/stream?provider=${provider.publicKey}`);
    await providerStream.opened;

    await send(provider, "faucet", { amount: 100_000_000n });
    await send(provider, "registerNode", {
      name: "fra-gpu-1",
      city: "Frankfurt",
      country: "DE",
      jurisdictions: ["DE", "EU"],
      latE6: 50_110_900,
      lonE6: 8_682_100,
      resourceClass: "gpu",
      capacity: 8,
      throughput: 40_000,
      endpoint,
    });
    await send(provider, "bond", { amount: 50_000_000n });
    await send(provider, "postOffer", { resourceClass: "gpu", capacity: 8, pricePerUnitSecond: price });
    await send(requester, "faucet", { amount: 10_000_000n });
    const budget = 1_000_000n;
    await send(requester, "submitJob", { stages: [stage("a"), stage("b", ["a"])], budget } as never);

    const { body: jobs } = await get<{ jobs: JobView[] }>(base, `/v1/jobs?requester=${requester.publicKey}`);
    assert.equal(jobs.jobs.length, 1);
    const jobId = jobs.jobs[0]!.id as JobId;
    const jobStream = watch(`${stream}/v1/stream?job=${jobId}`);
    await jobStream.opened;

    // Stage a is matched to the only gpu, and the provider hears of it on its stream.
    const first = await providerStream.until(
      "assignment of a",
      (f): f is Extract<StreamFrame, { type: "assignment" }> =>
        f.type === "assignment" && f.assignment.stage === "a",
    );
    assert.equal(first.assignment.jobId, jobId);
    assert.equal(first.assignment.pricePerUnitSecond, "600");
    const open = await get<{ assignments: Assignment[] }>(
      base,
      `/v1/providers/${provider.publicKey}/assignments`,
    );
    assert.deepEqual(
      open.body.assignments.map((a) => assignmentSchema.parse(a).stage),
      ["a"],
    );

    const output = "cd".repeat(32);
    await send(provider, "startStage", { jobId, stage: "a" });
    await send(provider, "commitResult", { jobId, stage: "a", root: "ab".repeat(32), output, steps: 4 });

    // The verification window closes on a tick; a settles and b is placed with a's output as input.
    const second = await providerStream.until(
      "assignment of b",
      (f): f is Extract<StreamFrame, { type: "assignment" }> =>
        f.type === "assignment" && f.assignment.stage === "b",
    );
    assert.deepEqual(second.assignment.inputs, [
      { cid: output, from: endpoint, stage: "a", producer: provider.publicKey },
    ]);
    await send(provider, "startStage", { jobId, stage: "b" });
    await send(provider, "commitResult", {
      jobId,
      stage: "b",
      root: "ef".repeat(32),
      output: "12".repeat(32),
      steps: 4,
    });

    const finished = await waitFor("the job to finish", async () => {
      const { body } = await get<JobView>(base, `/v1/jobs/${jobId}`);
      return body.status === "finished" ? body : undefined;
    });
    assert.deepEqual(jobViewSchema.parse(finished), finished);
    const cost = price * 2n * 10n; // price × units × seconds, per stage
    const fee = (cost * 100n + 9_999n) / 10_000n; // 1 %, rounded up
    assert.deepEqual(
      finished.stages.map((s) => [s.name, s.status, s.paid, s.fee]),
      [
        ["a", "settled", String(cost), String(fee)],
        ["b", "settled", String(cost), String(fee)],
      ],
    );
    assert.equal(finished.refund, String(budget - 2n * (cost + fee)));
    assert.equal(finished.escrow, "0");
    const account = (await get<Account>(base, `/v1/accounts/${provider.publicKey}`)).body;
    assert.deepEqual(accountSchema.parse(account), account);
    assert.equal(account.available, String(100_000_000n - 50_000_000n + 2n * cost));
    assert.equal(account.nonce, "8");

    // The job stream saw each change of a once, in order, starting from its status when it
    // subscribed (accepted and settled happen in one event, so only settled is reported).
    await jobStream.until(
      "b settled",
      (f): f is StreamFrame => f.type === "stage" && f.stage === "b" && f.status === "settled",
    );
    const statusesOf = (name: string) =>
      jobStream.frames.flatMap((f) => (f.type === "stage" && f.stage === name ? [f.status] : []));
    assert.deepEqual(statusesOf("a"), ["matched", "running", "committed", "settled"]);
    assert.deepEqual(statusesOf("b"), ["pending", "matched", "running", "committed", "settled"]);

    // Every receipt is signed by this coordinator and names the event the log holds at its seq.
    const status = statusSchema.parse((await get(base, "/v1/status")).body);
    assert.equal(status.coordinator, coordinator.publicKey);
    for (const [i, receipt] of receipts.entries()) {
      assert.ok(verifyReceipt(nodeEd25519, receipt, status.coordinator), `receipt ${i} verifies`);
      if (i > 0) assert.ok(receipt.seq > receipts[i - 1]!.seq, "receipts are in log order");
      const { body } = await get<{ events: Array<{ seq: number; hash: string }> }>(
        base,
        `/v1/events?from=${receipt.seq}&limit=1`,
      );
      assert.equal(body.events[0]?.hash, receipt.hash, `event ${receipt.seq} is the receipted one`);
    }
    for (const node of (await get<{ nodes: unknown[] }>(base, "/v1/nodes")).body.nodes)
      nodeViewSchema.parse(node);
    // The ticks that settled the stages also ran the first price epoch: the one gpu offer's ask.
    const market = marketSchema.parse((await get(base, "/v1/market")).body);
    assert.deepEqual(
      market.priceIndex.map((p) => [p.resourceClass, p.region, p.index]),
      [["gpu", "Europe", "600"]],
    );
    assert.ok(market.priceIndex[0]!.updatedAt <= status.time);
    providerStream.close();
    jobStream.close();
  } finally {
    await coordinator.stop();
  }
}

const pgUrl = process.env["SWITCHYARD_TEST_PG"];

describe("a stage lifecycle over HTTP and WebSocket, with verified receipts", () => {
  test("memory store", () => lifecycle(() => "memory"));

  test("PGlite store", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-coordinator-"));
    try {
      await lifecycle(() => pgliteEventStore({ dataDir: dir }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("PostgreSQL store", { skip: pgUrl === undefined ? "SWITCHYARD_TEST_PG not set" : false }, async () => {
    const schema = `coordinator_test_${randomBytes(6).toString("hex")}`;
    try {
      await lifecycle(() => postgresEventStore({ url: pgUrl!, schema }));
    } finally {
      const admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
});
