/**
 * Provider agents end to end: a real coordinator (startCoordinator, HTTP + WebSocket on loopback)
 * and real agents in this process, each with its own data directory, blob server and journal,
 * sharing one worker pool. Jobs run to settlement; the blob transfer and the QAOA loop go over HTTP
 * between the agents; the coordinator is stopped and restarted mid-job.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { coordinatorIdentity, silentLogger, testIdentity, waitFor } from "../coordinator/test-kit.ts";
import type { JobView } from "../protocol/api.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Identity } from "../protocol/envelope.ts";
import { merkleRoot } from "../protocol/merkle.ts";
import type { WireMessageBody } from "../protocol/messages.ts";
import { createWorkerPool, type WorkerPool } from "../runtime/pool.ts";
import { runQaoaLoop } from "../runtime/programs/qaoa-loop.ts";
import { type Client, createClient, type FetchLike, getJob, signAndSubmit, submitJob } from "../sdk/index.ts";
import type { EventStore } from "../store/event-store.ts";
import { MemoryDisk, memoryEventStore } from "../store/memory-event-store.ts";
import {
  type Provider,
  type ProviderEvent,
  type ProviderNode,
  type StartProviderOptions,
  startProvider,
} from "./provider.ts";

const params = { verificationWindowMs: 100, startDeadlineMs: 20_000, runGraceMs: 20_000 };
const place = (lat: number, lon: number) => ({ latE6: Math.round(lat * 1e6), lonE6: Math.round(lon * 1e6) });
const frankfurt: ProviderNode = {
  name: "fra-gpu",
  city: "Frankfurt",
  country: "DE",
  jurisdictions: ["DE", "EU"],
  ...place(50.1109, 8.6821),
  resourceClass: "gpu",
  capacity: 2,
};
const singapore: ProviderNode = {
  name: "sin-gpu",
  city: "Singapore",
  country: "SG",
  jurisdictions: ["SG"],
  ...place(1.3521, 103.8198),
  resourceClass: "gpu",
  capacity: 2,
};
const amsterdamQpu: ProviderNode = {
  name: "ams-qpu",
  city: "Amsterdam",
  country: "NL",
  jurisdictions: ["NL", "EU"],
  ...place(52.3676, 4.9041),
  resourceClass: "qpu",
  capacity: 1,
};
const amsterdamCpu: ProviderNode = { ...amsterdamQpu, name: "ams-cpu", resourceClass: "cpu", capacity: 4 };

const trainStages = (): WireMessageBody<"submitJob"> => ({
  budget: "1000000",
  stages: [
    {
      name: "train",
      program: "mlp-train",
      params: { epochs: 1, hiddenLayers: [8], vocabularySize: 128, seed: 7 },
      resourceClass: "gpu",
      units: 1,
      seconds: 30,
      maxPricePerUnitSecond: "800",
      jurisdictions: ["EU"],
    },
    {
      name: "evaluate",
      program: "mlp-eval",
      params: { part: "test" },
      resourceClass: "gpu",
      units: 1,
      seconds: 30,
      maxPricePerUnitSecond: "800",
      jurisdictions: ["SG"],
      after: ["train"],
    },
  ],
});

const graph = {
  nodes: 8,
  edges: [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
    [4, 5],
    [5, 6],
    [6, 7],
    [7, 4],
    [0, 4],
    [1, 5],
    [2, 6],
    [3, 7],
  ],
};
const loopRounds = 6;

let dir = "";
let pool: WorkerPool;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchyard-agents-"));
  pool = createWorkerPool({ size: 2 });
});
after(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

interface Network {
  coordinator: Coordinator;
  client: Client;
  requester: Identity;
  providers: Provider[];
  events: Map<string, ProviderEvent[]>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

let networks = 0;

async function network(
  nodes: readonly ProviderNode[],
  overrides: (node: ProviderNode, net: () => Network) => Partial<StartProviderOptions> = () => ({}),
): Promise<Network> {
  const id = ++networks;
  const disk = new MemoryDisk();
  const store = (): EventStore => memoryEventStore({ disk });
  let coordinator = await startCoordinator({
    store: store(),
    identity: coordinatorIdentity,
    net: "agent-test",
    devFaucet: true,
    port: 0,
    tickIntervalMs: 20,
    verifierThreads: 0,
    params,
    logger: silentLogger,
  });
  const port = Number(new URL(coordinator.url).port);
  const client = createClient({ url: coordinator.url, ed: nodeEd25519 });
  const requester = testIdentity(`requester-${id}`);
  await signAndSubmit(client, { identity: requester, type: "faucet", body: { amount: "100000000" } });
  const events = new Map<string, ProviderEvent[]>();
  const self: Network = {
    get coordinator() {
      return coordinator;
    },
    client,
    requester,
    providers: [],
    events,
    async restart() {
      await coordinator.stop();
      coordinator = await startCoordinator({
        store: store(),
        identity: coordinatorIdentity,
        port,
        tickIntervalMs: 20,
        verifierThreads: 0,
        logger: silentLogger,
      });
    },
    async close() {
      await Promise.all(self.providers.map((p) => p.stop()));
      await coordinator.stop();
    },
  };
  for (const node of nodes) {
    const log: ProviderEvent[] = [];
    events.set(node.name, log);
    self.providers.push(
      await startProvider({
        coordinatorUrl: coordinator.url,
        identity: testIdentity(`${node.name}-${id}`),
        node,
        pricePerUnitSecond: 100n,
        stake: 5_000_000n,
        dataDir: join(dir, `${id}-${node.name}`),
        pool,
        devFaucet: true,
        benchmark: { minDurationMs: 30, warmupUnits: 2 },
        backoff: { initialDelayMs: 20, maxDelayMs: 200 },
        stopGraceMs: 2_000,
        onEvent: (e) => {
          log.push(e);
          // AGENT_TEST_LOG=1 prints what every agent does, for debugging a failing run.
          if (process.env["AGENT_TEST_LOG"])
            console.error(
              node.name,
              JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? `${v}` : v)),
            );
        },
        ...overrides(node, () => self),
      }),
    );
  }
  return self;
}

async function settled(client: Client, jobId: string): Promise<JobView> {
  return waitFor(
    `job ${jobId.slice(0, 8)} to finish`,
    async () => {
      const job = await getJob(client, { id: jobId }).catch(() => undefined);
      return job?.status === "finished" ? job : undefined;
    },
    60_000,
  );
}

const count = (events: readonly ProviderEvent[] | undefined, type: ProviderEvent["type"], stage?: string) =>
  (events ?? []).filter(
    (e) => e.type === type && (stage === undefined || ("stage" in e && e.stage === stage)),
  ).length;

describe("provider agents with a real coordinator", () => {
  test("a two-stage job runs to settlement; the model moves from Frankfurt to Singapore over HTTP", async () => {
    const net = await network([frankfurt, singapore]);
    try {
      const [fra, sin] = net.providers as [Provider, Provider];
      assert.ok(fra.onboarding.registered && fra.onboarding.offered && fra.onboarding.bonded === 5_000_000n);
      assert.ok(fra.onboarding.throughput > 0, "registered with the measured benchmark throughput");
      const { jobId } = await submitJob(net.client, { identity: net.requester, spec: trainStages() });
      const job = await settled(net.client, jobId);
      assert.deepEqual(
        job.stages.map((s) => [s.name, s.status, s.provider]),
        [
          ["train", "settled", fra.publicKey],
          ["evaluate", "settled", sin.publicKey],
        ],
      );
      // The committed root is the one any honest machine computes for the same input.
      const reference = await pool.run({
        program: "mlp-train",
        input: trainStages().stages[0]!.params,
        checkpointEvery: 4,
      });
      assert.equal(job.stages[0]!.root, reference.root);
      const input = net.events.get("sin-gpu")!.find((e) => e.type === "input");
      assert.ok(input?.type === "input" && !input.local && input.transfer !== undefined);
      assert.equal(input.transfer.source, fra.endpoint);
      assert.equal(input.cid, job.stages[0]!.output);
      assert.ok(sin.stats().bytesFetched > 0 && fra.stats().bytesServed > 0);
      assert.equal(fra.journal.get(jobId, "train")?.phase, "committed");
    } finally {
      await net.close();
    }
  });

  test("the QAOA loop runs between two agents over HTTP; both roots equal the in-process loop's", async () => {
    let requests = 0;
    // Every loop request pays an emulated 10 ms round trip (the CLI wires geo emulation here).
    const emulated: FetchLike = async (input, init) => {
      if (input.includes("/loop/")) {
        requests++;
        await new Promise((r) => setTimeout(r, 10));
      }
      return fetch(input, init);
    };
    const net = await network([amsterdamQpu, amsterdamCpu], () => ({ fetch: emulated }));
    try {
      const [qpu, cpu] = net.providers as [Provider, Provider];
      const { jobId } = await submitJob(net.client, {
        identity: net.requester,
        spec: {
          budget: "1000000",
          stages: [
            {
              name: "qaoa",
              program: "qaoa-maxcut",
              params: { graph, angles: { gammas: [0.4], betas: [0.3] } },
              resourceClass: "qpu",
              units: 1,
              seconds: 30,
              maxPricePerUnitSecond: "2000",
            },
            {
              name: "optimizer",
              program: "qaoa-optimizer",
              params: { iterations: loopRounds },
              resourceClass: "cpu",
              units: 1,
              seconds: 30,
              maxPricePerUnitSecond: "200",
              loop: { with: "qaoa", iterations: loopRounds, maxRttMs: 20 },
            },
          ],
        },
      });
      const job = await settled(net.client, jobId);
      const local = runQaoaLoop({
        graph: graph as never,
        initial: { gammas: [0.4], betas: [0.3] },
        iterations: loopRounds,
        checkpointEvery: 4,
      });
      const byName = new Map(job.stages.map((s) => [s.name, s]));
      assert.equal(byName.get("qaoa")?.provider, qpu.publicKey);
      assert.equal(byName.get("optimizer")?.provider, cpu.publicKey);
      assert.equal(byName.get("qaoa")?.root, merkleRoot(local.rounds.map((r) => r.energy.root)));
      assert.equal(byName.get("optimizer")?.root, local.optimizerRoot);
      assert.equal(byName.get("qaoa")?.steps, loopRounds);
      const loop = net.events.get("ams-cpu")!.find((e) => e.type === "loop");
      assert.ok(loop?.type === "loop" && loop.roundTrips !== undefined && loop.loopMs !== undefined);
      assert.ok(loop.roundTrips >= loopRounds + 2, "session, K rounds and done");
      assert.ok(
        loop.loopMs >= loopRounds * 10,
        `each round trip paid the emulated delay (${loop.loopMs} ms)`,
      );
      assert.ok(requests >= loopRounds + 2);
      assert.equal(qpu.stats().loopRounds, loopRounds);
    } finally {
      await net.close();
    }
  });

  test("a coordinator restart loses no work and repeats none: a lost commit is resent, an unacknowledged one recognized", async () => {
    let restarting: Promise<void> | undefined;
    let restarts = 0;
    // Each agent's HTTP goes through this hook. The first commit of `evaluate` finds the coordinator
    // gone (the request never arrives); the first commit of `train` is applied but its answer is
    // lost with the restart.
    const hook =
      (net: () => Network): FetchLike =>
      async (input, init) => {
        const body = typeof init?.body === "string" ? init.body : "";
        const commitOf = (stage: string) =>
          body.includes('"commitResult"') && body.includes(`"stage":"${stage}"`) && restarts < 2;
        if (commitOf("evaluate") && restarts === 1) {
          restarts++;
          restarting = net().restart();
          await net().coordinator.stopped;
          throw new TypeError("fetch failed (the coordinator is restarting)");
        }
        if (commitOf("train") && restarts === 0) {
          restarts++;
          const response = await fetch(input, init);
          restarting = net().restart();
          await response.text();
          throw new TypeError("fetch failed (connection reset before the answer)");
        }
        return fetch(input, init);
      };
    const net = await network([frankfurt, singapore], (_node, self) => ({ fetch: hook(self) }));
    try {
      const [fra, sin] = net.providers as [Provider, Provider];
      const { jobId } = await submitJob(net.client, { identity: net.requester, spec: trainStages() });
      await waitFor("two restarts", () => (restarts === 2 ? true : undefined), 60_000);
      await restarting;
      const job = await settled(net.client, jobId);
      assert.deepEqual(
        job.stages.map((s) => s.status),
        ["settled", "settled"],
      );
      // Nothing was computed twice, and each commit landed exactly once.
      assert.equal(count(net.events.get("fra-gpu"), "computed", "train"), 1);
      assert.equal(count(net.events.get("sin-gpu"), "computed", "evaluate"), 1);
      assert.equal(fra.stats().recommitted, 0, "train's commit was applied before the restart: not resent");
      assert.ok(
        net.events.get("fra-gpu")!.some((e) => e.type === "committed" && e.stage === "train" && e.already),
        "recognized from the job view after the restart",
      );
      assert.equal(
        sin.stats().recommitted,
        1,
        "evaluate's commit never arrived: resent with the same result",
      );
      assert.equal(sin.journal.get(jobId, "evaluate")?.phase, "committed");
      assert.equal(fra.journal.get(jobId, "train")?.phase, "committed");
    } finally {
      await restarting?.catch(() => {});
      await net.close();
    }
  });
});
