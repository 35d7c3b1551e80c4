/**
 * Failover through real agents and a real coordinator on loopback (the process-level kill -9 is in
 * test/failover.test.ts). The vanishing provider is scripted at the protocol level — it starts the
 * stage, mirrors a checkpoint state, reports progress and then says nothing more — so the test
 * controls exactly which checkpoint was reported; the provider that takes over, and the verifier
 * that checks it, are real agents.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Coordinator } from "../coordinator/coordinator.ts";
import { startTestCoordinator, testIdentity, waitFor } from "../coordinator/test-kit.ts";
import { apiPaths, type JobView } from "../protocol/api.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { contentId } from "../protocol/hash.ts";
import type { JobId } from "../protocol/ids.ts";
import { generateJobKey, sealBlob, stageKey } from "../protocol/job-crypto.node.ts";
import type { WireMessageBody } from "../protocol/messages.ts";
import { createWorkerPool, type WorkerPool } from "../runtime/pool.ts";
import type { RunResult } from "../runtime/program.ts";
import { type Client, createClient, getJob, signAndSubmit, submitJob } from "../sdk/index.ts";
import { releaseStageKeys } from "../sdk/release-stage-keys.ts";
import { onboard, type ProviderNode } from "./onboard.ts";
import { type Provider, type ProviderEvent, startProvider } from "./provider.ts";

const place = (lat: number, lon: number) => ({ latE6: Math.round(lat * 1e6), lonE6: Math.round(lon * 1e6) });
const gpu = (name: string, city: string, country: string, lat: number, lon: number): ProviderNode => ({
  name,
  city,
  country,
  jurisdictions: [country, "EU"],
  ...place(lat, lon),
  resourceClass: "gpu",
  capacity: 2,
});
const trainParams = { epochs: 1, hiddenLayers: [8], vocabularySize: 128, seed: 7 };
const EVERY = 4;
const job = (seed: number): WireMessageBody<"submitJob"> => ({
  budget: "1000000",
  stages: [
    {
      name: "train",
      program: "mlp-train",
      params: { ...trainParams, seed },
      resourceClass: "gpu",
      units: 1,
      seconds: 6,
      maxPricePerUnitSecond: "800",
      jurisdictions: ["EU"],
      verification: "spot",
    },
  ],
});

let dir = "";
let pool: WorkerPool;
let coordinator: Coordinator;
let client: Client;
const ghost = testIdentity("ghost-fra");
const requester = testIdentity("failover-requester");
const events = new Map<string, ProviderEvent[]>();
const agents: Provider[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchyard-failover-"));
  pool = createWorkerPool({ size: 2 });
  // Run deadline = the stage's 6 s exactly.
  coordinator = await startTestCoordinator({
    params: { verificationWindowMs: 100, runDeadlinePercent: 100, runGraceMs: 0 },
  });
  client = createClient({ url: coordinator.url, ed: nodeEd25519 });
  await signAndSubmit(client, { identity: requester, type: "faucet", body: { amount: "100000000" } });
  // The provider that will vanish: the cheapest EU gpu, so it is placed first. Its endpoint refuses.
  // It bonds exactly the minimum stake: once slashed for vanishing it is below it, so it is never
  // drawn as a verifier (which it would not answer).
  await onboard({
    client,
    identity: ghost,
    node: gpu("ghost-fra", "Frankfurt", "DE", 50.1109, 8.6821),
    endpoint: "http://127.0.0.1:9",
    benchmark: () => 40_000,
    stake: 1_000_000n,
    pricePerUnitSecond: 100n,
    offerCapacity: 2,
    devFaucet: true,
    faucetMargin: 1_000_000n,
  });
  // Paris takes over; Munich (a cpu) can only verify — inside the EU, as a verifier of an EU-only
  // stage must be (core/routing/keys.ts).
  for (const node of [
    gpu("par-gpu", "Paris", "FR", 48.8566, 2.3522),
    { ...gpu("muc-cpu", "Munich", "DE", 48.1351, 11.582), resourceClass: "cpu" },
  ]) {
    const log: ProviderEvent[] = [];
    events.set(node.name, log);
    agents.push(
      await startProvider({
        coordinatorUrl: coordinator.url,
        identity: testIdentity(`failover-${node.name}`),
        node,
        pricePerUnitSecond: 300n,
        stake: 5_000_000n,
        dataDir: join(dir, node.name),
        pool,
        devFaucet: true,
        benchmark: { minDurationMs: 30, warmupUnits: 2 },
        backoff: { initialDelayMs: 20, maxDelayMs: 200 },
        stopGraceMs: 2_000,
        progressEveryMs: 0,
        onEvent: (e) => {
          log.push(e);
          if (process.env["AGENT_TEST_LOG"])
            console.error(
              Date.now() % 1e6,
              node.name,
              JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? `${v}` : v)),
            );
        },
      }),
    );
  }
});
after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await coordinator?.stop();
  await pool?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The vanishing provider starts the stage and reports checkpoint `index` (mirrored, unless `mirror` is false). */
async function vanishAfter(
  jobId: string,
  full: RunResult<unknown>,
  index: number,
  mirror: boolean,
  seal: (state: Uint8Array) => Uint8Array = (state) => state,
) {
  await signAndSubmit(client, { identity: ghost, type: "startStage", body: { jobId, stage: "train" } });
  const state = seal(full.states![index]!);
  const cid = contentId(state);
  if (mirror) {
    const res = await fetch(`${coordinator.url}${apiPaths.blob.replace(":cid", cid)}`, {
      method: "PUT",
      body: state,
    });
    assert.equal(res.status, 204);
  }
  // Two reports: the second carries only the hashes after the first.
  const first = 2;
  for (const [from, to] of [
    [0, first],
    [first + 1, index],
  ] as const) {
    await signAndSubmit(client, {
      identity: ghost,
      type: "reportProgress",
      body: {
        jobId,
        stage: "train",
        index: to,
        step: to * EVERY,
        steps: full.steps,
        checkpointEvery: EVERY,
        checkpoints: full.checkpoints.slice(from, to + 1),
        state: to === index ? cid : contentId(seal(full.states![to]!)),
      },
    });
  }
}

async function finished(jobId: string): Promise<JobView> {
  return waitFor(
    `job ${jobId.slice(0, 8)} to finish`,
    async () => {
      const view = await getJob(client, { id: jobId }).catch(() => undefined);
      return view?.status === "finished" ? view : undefined;
    },
    60_000,
  );
}

describe("failover with real agents", () => {
  test("a stage whose provider vanished resumes elsewhere from the mirrored checkpoint, to the same root, and each step is paid once (a sealed job's mirrored state stays sealed)", async () => {
    // The mirrored job is sealed: the vanished provider mirrored its state sealed under the stage
    // key, and the provider that takes over opens it with the key the requester released to it.
    const [withMirror, withoutMirror] = (await Promise.all(
      [11, 12].map((seed) =>
        submitJob(client, {
          identity: requester,
          spec: { ...job(seed), ...(seed === 11 ? { sealed: true } : {}) },
        }),
      ),
    )) as unknown as [{ jobId: string }, { jobId: string }];
    const jobKey = generateJobKey();
    const stopReleasing = new AbortController();
    const releasing = releaseStageKeys(client, {
      identity: requester,
      jobId: withMirror.jobId,
      jobKey,
      watch: { intervalMs: 50, signal: stopReleasing.signal },
    });
    const key = stageKey(jobKey, withMirror.jobId as JobId, "train");
    const sealState = (state: Uint8Array) =>
      sealBlob(key, { jobId: withMirror.jobId as JobId, stage: "train" }, state);
    const runs = await Promise.all(
      [11, 12].map((seed) =>
        pool.run({
          program: "mlp-train",
          input: { ...trainParams, seed },
          checkpointEvery: EVERY,
          keepStates: true,
        }),
      ),
    );
    const [full, fullB] = runs as [RunResult<unknown>, RunResult<unknown>];
    const index = 5;
    await vanishAfter(withMirror.jobId, full, index, true, sealState);
    await vanishAfter(withoutMirror.jobId, fullB, index, false);
    const [view, viewB] = await Promise.all([finished(withMirror.jobId), finished(withoutMirror.jobId)]);
    stopReleasing.abort();
    assert.deepEqual((await releasing).refused, []);
    assert.ok(
      view.stages[0]!.keys?.some((k) => k.to === agents[0]!.publicKey),
      "Paris was given the key",
    );
    const paris = agents[0]!.publicKey;

    for (const [v, run] of [
      [view, full],
      [viewB, fullB],
    ] as const) {
      const train = v.stages[0]!;
      assert.equal(train.status, "settled");
      assert.equal(train.provider, paris, "placed again on the other EU gpu");
      assert.equal(train.root, run.root, "the resumed run commits the root of an uninterrupted one");
      assert.deepEqual(
        train.handoffs?.map((h) => [h.provider, h.fromStep, h.toStep, h.index]),
        [[ghost.publicKey, 0, index * EVERY, index]],
      );
      const cost = BigInt(train.paid!);
      const share = (cost * BigInt(index * EVERY)) / BigInt(run.steps);
      assert.deepEqual(
        train.payouts?.map((p) => [p.provider, p.fromStep, p.toStep, BigInt(p.amount)]),
        [
          [ghost.publicKey, 0, index * EVERY, share],
          [paris, index * EVERY, run.steps, cost - share],
        ],
      );
      // Spot checks of a resumed stage start at or after the resume point: Paris holds those states.
      for (const c of train.checks ?? []) if (c.segment !== undefined) assert.ok(c.segment >= index);
      assert.ok(
        train.checks?.some((c) => c.outcome === "verified" || c.outcome === "unchecked"),
        JSON.stringify(train.checks),
      );
    }
    const resumed = (events.get("par-gpu") ?? []).filter((e) => e.type === "resumed");
    const mirrored = resumed.find((e) => e.type === "resumed" && e.jobId === withMirror.jobId);
    const scratch = resumed.find((e) => e.type === "resumed" && e.jobId === withoutMirror.jobId);
    assert.ok(
      mirrored?.type === "resumed" && mirrored.source === `${coordinator.url}/v1`,
      "from the coordinator's cache",
    );
    assert.equal(mirrored.index, index);
    assert.ok(
      scratch?.type === "resumed" && scratch.fromScratch !== undefined,
      "no state anywhere: ran from step 0",
    );
    // The provider that took over reported its own progress, from after the resume point.
    const reports = (events.get("par-gpu") ?? []).filter(
      (e) => e.type === "progress" && e.jobId === withMirror.jobId,
    );
    assert.ok(reports.length > 0);
    for (const r of reports) assert.ok(r.type === "progress" && r.index > index);
    assert.equal((events.get("par-gpu") ?? []).filter((e) => e.type === "error").length, 0);
  });
});
