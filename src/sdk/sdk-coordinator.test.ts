/**
 * The SDK against a real coordinator (startCoordinator on loopback, memory store): every action,
 * decoded with the api.ts schemas, receipts verified, the log read back as a chain.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import type { Coordinator } from "../coordinator/coordinator.ts";
import { startTestCoordinator, testIdentity } from "../coordinator/test-kit.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { verifyChain } from "../protocol/log.ts";
import {
  type Client,
  createClient,
  getAccount,
  getAssignments,
  getEvents,
  getJob,
  getMarket,
  getNodes,
  getStatus,
  type JobUpdate,
  listJobs,
  signAndSubmit,
  submitJob,
  verifyReceipt,
  watchJob,
} from "./index.ts";

let coordinator: Coordinator;
let client: Client;
const alice = testIdentity("sdk-alice");
const bob = testIdentity("sdk-bob");

before(async () => {
  coordinator = await startTestCoordinator();
  client = createClient({ url: coordinator.url, ed: nodeEd25519, WebSocket });
});
after(async () => {
  await coordinator.stop();
});

const spec = {
  budget: "1000000",
  stages: [
    {
      name: "train",
      program: "mlp-train",
      resourceClass: "gpu",
      units: 1,
      seconds: 10,
      maxPricePerUnitSecond: "100",
    },
  ],
};

describe("the SDK against a real coordinator", () => {
  test("status, signed receipts that verify against the coordinator's key, and balances", async () => {
    const status = await getStatus(client);
    assert.equal(status.net, "testnet");
    assert.equal(status.leader, true);
    const { receipt } = await signAndSubmit(client, {
      identity: alice,
      type: "faucet",
      body: { amount: "50000000" },
    });
    assert.equal(verifyReceipt(client, { receipt, coordinator: status.coordinator }), true);
    assert.equal(verifyReceipt(client, { receipt: { ...receipt, seq: receipt.seq + 1 } }), false);
    const account = await getAccount(client, { key: alice.publicKey });
    assert.equal(account.available, "50000000");
    assert.equal(account.nonce, "1");
  });

  test("twenty concurrent messages of one identity are all accepted, with nonces in call order", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        signAndSubmit(client, { identity: bob, type: "faucet", body: { amount: "1" } }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.envelope.nonce),
      Array.from({ length: 20 }, (_, i) => BigInt(i + 1)),
    );
    const seqs = results.map((r) => r.receipt.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
    );
    assert.equal((await getAccount(client, { key: bob.publicKey })).available, "20");
  });

  test("a job: its id as derived, listed for its requester, watched until it is cancelled", async () => {
    const { jobId } = await submitJob(client, { identity: alice, spec });
    const job = await getJob(client, { id: jobId });
    assert.equal(job.requester, alice.publicKey);
    assert.equal(job.stages[0]?.status, "pending", "no provider offers gpu");
    assert.ok((await listJobs(client, { requester: alice.publicKey })).some((j) => j.id === jobId));
    const updates: JobUpdate[] = [];
    const watching = (async () => {
      for await (const u of watchJob(client, { id: jobId })) updates.push(u);
    })();
    while (!updates.some((u) => u.type === "job")) await new Promise((r) => setTimeout(r, 10));
    await signAndSubmit(client, { identity: alice, type: "cancelJob", body: { jobId } });
    await watching;
    const last = updates.at(-1);
    assert.ok(last?.type === "job" && last.job.status === "finished");
    assert.ok(updates.some((u) => u.type === "stage" && u.status === "cancelled"));
  });

  test("nodes, market and assignments of a provider decode", async () => {
    const provider = testIdentity("sdk-provider");
    await signAndSubmit(client, { identity: provider, type: "faucet", body: { amount: "10000000" } });
    await signAndSubmit(client, {
      identity: provider,
      type: "registerNode",
      body: {
        name: "sdk-cpu",
        city: "Amsterdam",
        country: "NL",
        jurisdictions: ["NL", "EU"],
        latE6: 52_367_600,
        lonE6: 4_904_100,
        resourceClass: "cpu",
        capacity: 2,
        throughput: 1000,
        endpoint: "http://127.0.0.1:1",
      },
    });
    await signAndSubmit(client, { identity: provider, type: "bond", body: { amount: "5000000" } });
    await signAndSubmit(client, {
      identity: provider,
      type: "postOffer",
      body: { resourceClass: "cpu", capacity: 2, pricePerUnitSecond: "10" },
    });
    const node = (await getNodes(client)).find((n) => n.id === provider.publicKey);
    assert.equal(node?.endpoint, "http://127.0.0.1:1");
    assert.equal(node?.offers.filter((o) => o.active).length, 1);
    assert.ok((await getMarket(client)).classes.some((c) => c.resourceClass === "cpu"));
    const { jobId } = await submitJob(client, {
      identity: alice,
      spec: { ...spec, stages: [{ ...spec.stages[0]!, resourceClass: "cpu" }] },
    });
    const open = await getAssignments(client, { provider: provider.publicKey });
    assert.deepEqual(
      open.map((a) => [a.jobId, a.stage, a.status]),
      [[jobId, "train", "matched"]],
    );
  });

  test("the log reads back in pages that form one chain", async () => {
    const { seq } = await getStatus(client);
    const all = [];
    for (let from = 0; from <= seq; ) {
      const page = await getEvents(client, { from, limit: 7 });
      assert.ok(page.length > 0);
      all.push(...page);
      from = page.at(-1)!.seq + 1;
    }
    verifyChain(all);
    assert.equal(all.length, seq + 1);
    assert.equal(all[0]?.payload.kind, "sys");
  });

  test("error: typed codes from the coordinator, and an unreachable one named by URL", async () => {
    await assert.rejects(getJob(client, { id: "f".repeat(64) }), (e: unknown) =>
      isSwitchyardError(e, "UNKNOWN_JOB"),
    );
    await assert.rejects(
      signAndSubmit(client, { identity: testIdentity("sdk-poor"), type: "bond", body: { amount: "1" } }),
      (e: unknown) => isSwitchyardError(e, "INSUFFICIENT_FUNDS") && e.details["httpStatus"] === 409,
    );
    const stopped = await startTestCoordinator();
    await stopped.stop();
    await assert.rejects(
      getStatus(createClient({ url: stopped.url })),
      (e: unknown) => isSwitchyardError(e, "UNREACHABLE") && e.message.includes(stopped.url),
    );
  });
});
