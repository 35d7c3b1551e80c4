import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { cliClient } from "../src/cli/client.ts";
import { defaultProviders, type RunningNetwork, startLocalNetwork } from "../src/cli/local-network.ts";
import type { JobView } from "../src/protocol/api.ts";
import { nodeEd25519 } from "../src/protocol/ed25519.node.ts";
import { identityFromSecret } from "../src/protocol/envelope.ts";
import { parseJobSpec } from "../src/protocol/job-spec.ts";
import { getEvents, getJob, getStatus, signAndSubmit, submitJob } from "../src/sdk/index.ts";
import { auditStore } from "../src/store/audit.ts";
import { pgliteEventStore } from "../src/store/pglite-event-store.ts";

const spec = parseJobSpec(
  readFileSync(resolve(import.meta.dirname, "../examples/seed-pipeline.yaml"), "utf8"),
);
const requester = identityFromSecret(nodeEd25519, new Uint8Array(randomBytes(32)));

/** Poll until `check` holds; the network's own progress is what we wait for, never a fixed sleep. */
async function until<T>(
  what: string,
  get: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get().catch(() => undefined);
    if (value !== undefined && check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function settledOnce(job: JobView): void {
  for (const s of job.stages) assert.equal(s.status, "settled", `${s.name} is ${s.status}`);
  const paid = job.stages.reduce((n, s) => n + BigInt(s.paid ?? "0") + BigInt(s.fee ?? "0"), 0n);
  // Verifier fees leave the escrow only for checks that verified a result.
  const verifierFees = job.stages
    .flatMap((s) => s.checks ?? [])
    .reduce((n, c) => n + (c.outcome === "verified" ? BigInt(c.fee) : 0n), 0n);
  const spotChecked = job.stages.filter((s) => s.verification === "spot");
  assert.ok(spotChecked.length > 0, "the seed pipeline has spot-checked stages");
  for (const s of spotChecked) assert.ok((s.checks ?? []).length > 0, `${s.name} went through verification`);
  // Everything the requester locked is accounted for exactly once: payouts + fees + transfer fees
  // (the readers' receipts for the outputs they fetched) + refund.
  const transferFees = BigInt(job.transferPaid ?? "0");
  assert.equal(paid + verifierFees + transferFees + BigInt(job.refund ?? "0"), BigInt(job.budget));
}

describe("a real local network survives kill -9 of its coordinator", () => {
  let dir: string;
  let network: RunningNetwork;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "switchyard-crash-"));
    network = await startLocalNetwork({
      dataDir: dir,
      coordinatorCity: "Frankfurt",
      providers: defaultProviders,
      emulate: true,
      verificationWindowMs: 2_000,
    });
    await signAndSubmit(cliClient(network.url), {
      identity: requester,
      type: "faucet",
      body: { amount: "100000000" },
    });
  });
  after(async () => {
    await network?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("after settlement: the replayed state hash equals the acknowledged one, and nothing settles twice", async () => {
    const client = cliClient(network.url);
    const { jobId } = await submitJob(client, { identity: requester, spec });
    const job = await until(
      "the seed pipeline to finish",
      () => getJob(client, { id: jobId }),
      (j) => j.status === "finished",
    );
    settledOnce(job);
    // Let every tick that was due land, then read what the coordinator acknowledged.
    const acknowledged = await getStatus(client);

    await network.killCoordinator(true);
    await network.restartCoordinator();
    const after = cliClient(network.url);
    const replayed = await until(
      "the restarted coordinator",
      () => getStatus(after),
      () => true,
    );
    assert.ok(replayed.seq >= acknowledged.seq);
    if (replayed.seq === acknowledged.seq) assert.equal(replayed.stateHash, acknowledged.stateHash);
    // The acknowledged prefix is still in the log, with the same hash.
    const events = await getEvents(after, { from: acknowledged.seq, limit: 1 });
    assert.equal(events[0]?.hash, acknowledged.head);
    const again = await getJob(after, { id: jobId });
    settledOnce(again);
    assert.deepEqual(
      again.stages.map((s) => [s.name, s.paid]),
      job.stages.map((s) => [s.name, s.paid]),
    );
  });

  test("mid-pipeline: a job whose coordinator is killed while stages run still settles each stage once", async () => {
    const client = cliClient(network.url);
    const { jobId } = await submitJob(client, { identity: requester, spec });
    await until(
      "a stage to be running or committed",
      () => getJob(client, { id: jobId }),
      (j) => j.stages.some((s) => s.status === "running" || s.status === "committed"),
    );
    await network.killCoordinator(true);
    await network.restartCoordinator();
    const after = cliClient(network.url);
    const job = await until(
      "the job to finish after the restart",
      () => getJob(after, { id: jobId }),
      (j) => j.status === "finished",
    );
    settledOnce(job);
    // One commit per stage in the log: providers resumed or re-sent, never re-ran into a second commit.
    const all = await getEvents(after, { from: 0, limit: 1000 });
    const commits = all.filter((e) => {
      const env = (e.payload as { kind: string; env?: { type: string; body: { jobId?: string } } }).env;
      return env?.type === "commitResult" && env.body.jobId === jobId;
    });
    assert.equal(commits.length, spec.stages.length);
  });

  test("the stored log passes the audit after both crashes", async () => {
    const status = await getStatus(cliClient(network.url));
    await network.killCoordinator(false);
    const store = pgliteEventStore({ dataDir: network.storeDir });
    await store.open();
    // Agents may sequence more (coordinate reports, ticks) after the status was read: the audit
    // reproduces the acknowledged hash at its seq, and checks every later event too.
    const report = await auditStore(store, nodeEd25519, {
      seq: status.seq,
      stateHash: status.stateHash as never,
    }).finally(() => store.close());
    assert.equal(report.ok, true, JSON.stringify(report.error));
    assert.equal(report.checkedAt?.stateHash, status.stateHash);
    await network.restartCoordinator();
  });

  test("replicate:2 over real agents: two providers in separate processes commit the same root and both are paid", async () => {
    const client = cliClient(network.url);
    const train = spec.stages.find((s) => s.name === "train")!;
    const { jobId } = await submitJob(client, {
      identity: requester,
      spec: { budget: spec.budget, stages: [{ ...train, verification: "replicate:2" }] },
    });
    const job = await until(
      "the replicated stage to finish",
      () => getJob(client, { id: jobId }),
      (j) => j.status === "finished",
    );
    const [a, b] = [
      job.stages.find((s) => s.name === "train")!,
      job.stages.find((s) => s.name === "train~2")!,
    ];
    assert.equal(a.status, "settled");
    assert.equal(b.status, "settled");
    assert.notEqual(a.provider, b.provider, "two distinct providers");
    assert.equal(a.root, b.root, "reproducible kernels: identical roots from two processes");
    for (const s of [a, b]) assert.equal(s.checks?.at(-1)?.outcome, "replica-agreed");
  });
});
