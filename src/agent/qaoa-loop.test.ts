/**
 * The two halves of the QAOA loop over HTTP on loopback, without a coordinator: the qpu host on a
 * real server, the optimizer driving it through a fetch hook that can restart the qpu mid-loop.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Hono } from "hono";
import type { JobView } from "../protocol/api.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import { merkleRoot } from "../protocol/merkle.ts";
import { createWorkerPool, type WorkerPool } from "../runtime/pool.ts";
import { runQaoaLoop } from "../runtime/programs/qaoa-loop.ts";
import type { MaxCutGraph } from "../runtime/programs/qaoa-maxcut.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import { simIdentity } from "../sim/local-network.ts";
import { type AgentHttpServer, serveApp } from "./http.ts";
import { loopOf } from "./qaoa-loop.ts";
import { runOptimizerLoop } from "./qaoa-loop-optimizer.ts";
import { type QpuLoopHost, qpuLoopHost } from "./qaoa-loop-qpu.ts";

const graph: MaxCutGraph = {
  nodes: 6,
  edges: [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 4],
    [4, 5],
    [5, 0],
    [0, 3],
  ],
} as MaxCutGraph;
const angles = { gammas: [0.4], betas: [0.3] };
const rounds = 7;
const optimizer = simIdentity("loop-optimizer");
const stranger = simIdentity("loop-stranger");
const jobId = "d".repeat(64);

let pool: WorkerPool;
let server: AgentHttpServer;
/** The qpu agent currently behind the server; replaced to emulate a restart. */
let host: QpuLoopHost;

function openSession(h: QpuLoopHost, stage: string) {
  return h.serve({
    jobId,
    stage,
    graph,
    angles,
    deadline: Date.now() + 60_000,
    partner: async () => optimizer.publicKey as PublicKeyHex,
  });
}

before(async () => {
  pool = createWorkerPool({ size: 1 });
  host = qpuLoopHost({ pool, ed: nodeEd25519, checkpointEvery: 4 });
  const app = new Hono();
  app.all("*", (c) => host.app.fetch(c.req.raw));
  server = await serveApp(app, "127.0.0.1", 0);
});
after(async () => {
  await server.close();
  await pool.close();
});

const reference = runQaoaLoop({ graph, initial: angles, iterations: rounds, checkpointEvery: 4 });

const drive = (stage: string, fetchImpl: FetchLike, identity = optimizer) =>
  runOptimizerLoop({
    jobId,
    qpuStage: stage,
    qpuEndpoint: async () => server.url,
    params: { iterations: rounds },
    identity,
    ed: nodeEd25519,
    pool,
    checkpointEvery: 4,
    fetch: fetchImpl,
    deadline: Date.now() + 60_000,
  });

describe("the QAOA loop between two agents", () => {
  test("both halves commit the roots of the in-process loop", async () => {
    const qpu = openSession(host, "q1");
    const outcome = await drive("q1", (input, init) => fetch(input, init));
    const qpuOutcome = await qpu;
    assert.equal(outcome.root, reference.optimizerRoot);
    assert.equal(qpuOutcome.root, merkleRoot(reference.rounds.map((r) => r.energy.root)));
    assert.deepEqual(
      qpuOutcome.expectedCuts,
      reference.rounds.map((r) => r.energy.expectedCut),
    );
    assert.equal(outcome.rounds, rounds);
    assert.equal(outcome.roundTrips, rounds + 2, "session, one exchange per round, done");
    assert.deepEqual(outcome.output.best, reference.best);
  });

  test("the optimizer waits for a qpu that has not opened the session yet", async () => {
    let qpu: Promise<unknown> | undefined;
    let calls = 0;
    const late: FetchLike = async (input, init) => {
      if (++calls === 3) qpu = openSession(host, "q2");
      return fetch(input, init);
    };
    const outcome = await drive("q2", late);
    await qpu;
    assert.equal(outcome.root, reference.optimizerRoot);
    assert.ok(outcome.roundTrips > rounds + 2, "the 404s before the session opened were retried");
  });

  test("a qpu agent that restarts mid-loop is replayed the transcript, and the roots do not change", async () => {
    const first = openSession(host, "q3");
    first.catch(() => {});
    let roundsSeen = 0;
    let restarted: Promise<unknown> | undefined;
    const restarting: FetchLike = async (input, init) => {
      if (input.endsWith("/rounds") && ++roundsSeen === 4) {
        // The qpu agent restarts: its sessions are gone; it opens the stage's session again.
        host = qpuLoopHost({ pool, ed: nodeEd25519, checkpointEvery: 4 });
        restarted = openSession(host, "q3");
      }
      return fetch(input, init);
    };
    const outcome = await drive("q3", restarting);
    const qpuOutcome = (await restarted) as { root: string };
    assert.equal(outcome.root, reference.optimizerRoot);
    assert.equal(qpuOutcome.root, merkleRoot(reference.rounds.map((r) => r.energy.root)));
    assert.ok(outcome.roundTrips > rounds + 2, "rounds were replayed");
  });

  test("error: a signer other than the optimizer stage's provider is refused and steers nothing", async () => {
    const qpu = openSession(host, "q4");
    await assert.rejects(
      drive("q4", (input, init) => fetch(input, init), stranger),
      (e: unknown) => isSwitchyardError(e, "PROGRAM_FAILED") && e.details["remoteCode"] === "NOT_AUTHORIZED",
    );
    const info = (await (await fetch(`${server.url}/loop/${jobId}/q4`)).json()) as { next: number };
    assert.equal(info.next, 0, "no round was evaluated for the stranger");
    const outcome = await drive("q4", (input, init) => fetch(input, init));
    assert.equal(outcome.root, reference.optimizerRoot);
    await qpu;
  });
});

describe("loopOf: which stages form a loop", () => {
  const stage = (name: string, program: string, loop?: unknown): JobView["stages"][number] => ({
    name,
    program,
    status: "matched",
    resourceClass: "cpu",
    units: 1,
    seconds: 1,
    after: [],
    attempts: 1,
    ...(loop === undefined ? {} : { loop }),
  });
  const job = (...stages: JobView["stages"]): JobView => ({
    id: jobId,
    requester: "e".repeat(64),
    budget: "1",
    submittedAt: 0,
    status: "open",
    escrow: "1",
    stages,
  });

  test("a declared loop pairs the two stages on either side, with its iterations", () => {
    const j = job(
      stage("q", "qaoa-maxcut"),
      stage("q2", "qaoa-maxcut"),
      stage("opt", "qaoa-optimizer", { with: "q2", iterations: 12, maxRttMs: 20 }),
    );
    assert.deepEqual(
      [loopOf(j, "opt")?.role, loopOf(j, "opt")?.partner.name, loopOf(j, "opt")?.iterations],
      ["optimizer", "q2", 12],
    );
    assert.deepEqual([loopOf(j, "q2")?.role, loopOf(j, "q2")?.partner.name], ["qpu", "opt"]);
    assert.equal(loopOf(j, "q"), undefined, "the other qaoa-maxcut stage runs on its own");
  });

  test("without a declared loop, exactly one qpu and one optimizer stage pair; anything else does not", () => {
    assert.equal(
      loopOf(job(stage("q", "qaoa-maxcut"), stage("o", "qaoa-optimizer")), "q")?.partner.name,
      "o",
    );
    assert.equal(loopOf(job(stage("q", "qaoa-maxcut")), "q"), undefined);
    assert.equal(
      loopOf(
        job(stage("q", "qaoa-maxcut"), stage("o", "qaoa-optimizer"), stage("o2", "qaoa-optimizer")),
        "q",
      ),
      undefined,
    );
    assert.equal(loopOf(job(stage("t", "mlp-train")), "t"), undefined);
  });
});
