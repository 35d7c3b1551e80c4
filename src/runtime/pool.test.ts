import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { isSwitchyardError } from "../protocol/errors.ts";
import { type Checkpoint, createWorkerPool, defaultPoolSize, type ProgramJob } from "./pool.ts";
import { parseProgramInput, runProgram } from "./program.ts";
import { mlpTrain } from "./programs/mlp-train.ts";

const hostile = new URL("./testing/hostile-programs.ts", import.meta.url).href;
const quickTraining = { epochs: 1, vocabularySize: 128, hiddenLayers: [8], batchSize: 128 };
const qaoaJob: ProgramJob = {
  program: "qaoa-maxcut",
  input: {
    graph: {
      nodes: 5,
      edges: [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 4],
        [4, 0],
      ],
    },
    angles: { gammas: [0.6], betas: [0.4] },
  },
  checkpointEvery: 2,
};

function isLimit(kind: "time" | "memory") {
  return (e: unknown) => isSwitchyardError(e, "PROGRAM_LIMIT") && e.details["limit"] === kind;
}

describe("worker pool", () => {
  const pools = [
    createWorkerPool({ size: 1 }),
    createWorkerPool({ size: 1 }),
    createWorkerPool({ size: 1, programsModule: hostile, timeLimitMs: 30_000 }),
    createWorkerPool({ size: 1, programsModule: hostile, memoryLimitMb: 64 }),
  ] as const;
  const [left, right, hostilePool, smallHeap] = pools;
  after(() => Promise.all(pools.map((p) => p.close())));

  it("a built-in program run in two different worker threads gives the in-process root", async () => {
    const job = { program: "mlp-train", input: quickTraining, checkpointEvery: 8 };
    const [a, b] = await Promise.all([left.run(job), right.run(job)]);
    const local = runProgram(mlpTrain, parseProgramInput(mlpTrain, quickTraining), { checkpointEvery: 8 });
    assert.equal(a.root, local.root);
    assert.equal(b.root, local.root);
    assert.deepEqual(a.checkpoints, local.checkpoints);
  });

  it("limit: a program that never finishes a step fails with PROGRAM_LIMIT, and the pool recovers", async () => {
    const started = performance.now();
    await assert.rejects(
      hostilePool.run({ program: "test-spin-forever", input: {}, checkpointEvery: 1, timeLimitMs: 1000 }),
      isLimit("time"),
    );
    assert.ok(performance.now() - started < 10_000);
    const after = await hostilePool.run(qaoaJob);
    assert.equal(after.steps, 6);
  });

  it("limit: a program that exhausts its heap fails with PROGRAM_LIMIT", async () => {
    await assert.rejects(
      smallHeap.run({ program: "test-hoard-memory", input: {}, checkpointEvery: 1 }),
      (e) => isLimit("memory")(e) && isSwitchyardError(e) && e.details["program"] === "test-hoard-memory",
    );
  });

  it("limit: workers exhausting their heaps at once each fail with PROGRAM_LIMIT, and the host survives", async () => {
    // Before the pool capped the young generation, this aborted the test process itself (V8's
    // fatal out-of-memory) in 5 of 8 runs on a 2-core machine: see defaultYoungGenerationMb.
    const hoarders = [1, 2, 3].map(() =>
      createWorkerPool({ size: 1, programsModule: hostile, memoryLimitMb: 64 }),
    );
    try {
      const outcomes = await Promise.all(
        hoarders.map(async (pool) => {
          const kinds: unknown[] = [];
          for (let i = 0; i < 5; i++) {
            kinds.push(
              await pool.run({ program: "test-hoard-memory", input: {}, checkpointEvery: 1 }).then(
                () => "finished",
                (e: unknown) => (isLimit("memory")(e) ? "memory" : e),
              ),
            );
          }
          return kinds;
        }),
      );
      assert.deepEqual(outcomes.flat(), Array(15).fill("memory"));
      assert.equal((await hoarders[0]!.run(qaoaJob)).steps, 6, "a pool recovers after its worker is killed");
    } finally {
      await Promise.all(hoarders.map((p) => p.close()));
    }
  });

  it("error: failures inside a worker arrive as the same typed errors as in-process", async () => {
    await assert.rejects(hostilePool.run({ program: "test-throw", input: {}, checkpointEvery: 1 }), (e) =>
      isSwitchyardError(e, "PROGRAM_FAILED"),
    );
    await assert.rejects(
      hostilePool.run({ program: "no-such-program", input: {}, checkpointEvery: 1 }),
      (e) => isSwitchyardError(e, "NOT_FOUND"),
    );
    await assert.rejects(hostilePool.run({ ...qaoaJob, input: { graph: {} } }), (e) =>
      isSwitchyardError(e, "MALFORMED"),
    );
  });

  it("reports each checkpoint while the program runs, and resumes from one to the same root", async () => {
    const job = { program: "mlp-train", input: quickTraining, checkpointEvery: 8 };
    const seen: Checkpoint[] = [];
    let resolved = false;
    const full = await left
      .run({
        ...job,
        keepStates: true,
        onCheckpoint: (c) => {
          assert.equal(resolved, false, "checkpoints arrive before the result");
          seen.push(c);
        },
      })
      .finally(() => {
        resolved = true;
      });
    assert.deepEqual(
      seen.map((c) => c.hash),
      full.checkpoints,
    );
    assert.deepEqual(
      seen.map((c) => c.index),
      full.checkpoints.map((_, i) => i),
    );
    assert.deepEqual(
      seen.map((c) => c.state),
      full.states,
    );
    assert.ok(seen.every((c) => c.steps === full.steps && c.step === Math.min(c.index * 8, full.steps)));
    // Resume from checkpoint 2, as a provider taking over a vanished one's stage does.
    const j = 2;
    const later: Checkpoint[] = [];
    const resumed = await right.run({
      ...job,
      keepStates: true,
      resume: { checkpoints: full.checkpoints.slice(0, j + 1), stateBytes: seen[j]!.state },
      onCheckpoint: (c) => later.push(c),
    });
    assert.equal(resumed.root, full.root);
    assert.deepEqual(resumed.checkpoints, full.checkpoints);
    assert.deepEqual(
      later.map((c) => c.index),
      full.checkpoints.slice(j + 1).map((_, i) => i + j + 1),
    );
    assert.equal(resumed.states?.length, full.checkpoints.length - j - 1, "only the states it computed");
  });

  it("error: resuming from a state that is not the checkpoint's fails with STATE_HASH_MISMATCH", async () => {
    const job = { program: "qaoa-maxcut", input: qaoaJob.input, checkpointEvery: 2, keepStates: true };
    const full = await left.run(job);
    await assert.rejects(
      left.run({
        ...job,
        resume: { checkpoints: full.checkpoints.slice(0, 2), stateBytes: full.states![0]! },
      }),
      (e) => isSwitchyardError(e, "STATE_HASH_MISMATCH"),
    );
  });

  it("queues jobs beyond its size and runs them all", async () => {
    const results = await Promise.all([1, 2, 3].map(() => left.run(qaoaJob)));
    assert.equal(new Set(results.map((r) => r.root)).size, 1);
  });

  it("close fails queued jobs and refuses new ones", async () => {
    const pool = createWorkerPool({ size: 1 });
    const outcomes = [pool.run(qaoaJob), pool.run(qaoaJob)].map((p) =>
      assert.rejects(p, (e) => isSwitchyardError(e, "PROGRAM_FAILED")),
    );
    await pool.close();
    await Promise.all(outcomes);
    await assert.rejects(pool.run(qaoaJob), (e) => isSwitchyardError(e, "PROGRAM_FAILED"));
  });

  it("defaults to one worker per core but one, and at least one", () => {
    assert.ok(defaultPoolSize() >= 1);
    const pool = createWorkerPool();
    assert.equal(pool.size, defaultPoolSize());
    return pool.close();
  });
});
