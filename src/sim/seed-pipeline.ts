/**
 * Runs a job's pipeline on an in-process network with real work: each assigned stage is executed
 * by its provider's step program in the worker pool, its output is stored by content id, and the
 * provider commits the checkpoint root. Sequencer time follows a simulated clock that advances by
 * each stage's declared duration; ticks close verification windows and settle.
 *
 * A pair of `qaoa-maxcut` and `qaoa-optimizer` stages in one job is run as a loop: the optimizer
 * proposes angles, the qpu evaluates them, K times. Today both halves run in this process and the
 * round trips are counted, not sent over a network (the networked loop arrives with the router).
 */
import type { Effect } from "../core/index.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import type { Identity } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Cid, Hex32, JobId, PublicKeyHex } from "../protocol/ids.ts";
import { merkleRoot } from "../protocol/merkle.ts";
import type { SubmitJob } from "../protocol/messages.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import { bindInputs } from "../runtime/programs/bind-inputs.ts";
import { runQaoaLoop } from "../runtime/programs/qaoa-loop.ts";
import { must, type SimProvider } from "./fixtures.ts";
import type { LocalNetwork } from "./local-network.ts";

/** Content-addressed storage for stage outputs (the BlobStore port's shape). */
export interface OutputStore {
  put(bytes: Uint8Array): Promise<Cid>;
  get(cid: Cid): Promise<Uint8Array>;
}

export interface StageRun {
  readonly name: string;
  readonly program: string;
  readonly provider: PublicKeyHex;
  readonly root: Hex32;
  readonly output: Cid;
  readonly steps: number;
  readonly checkpoints: number;
  readonly wallMs: number;
  /** One line a person can read: accuracy, loss, best cut. */
  readonly summary: string;
}

export interface PipelineRun {
  readonly jobId: JobId;
  readonly runs: readonly StageRun[];
  readonly effects: readonly Effect[];
  readonly loopRoundTrips: number;
}

export interface PipelineOptions {
  readonly net: LocalNetwork;
  readonly pool: WorkerPool;
  readonly outputs: OutputStore;
  readonly providers: readonly SimProvider[];
  readonly requester: Identity;
  readonly spec: SubmitJob;
  readonly checkpointEvery?: number;
  readonly onProgress?: (line: string) => void;
}

type Assign = Extract<Effect, { type: "assign" }>;

export async function runPipeline(options: PipelineOptions): Promise<PipelineRun> {
  const { net, pool, outputs, spec } = options;
  const progress = options.onProgress ?? (() => {});
  const checkpointEvery = options.checkpointEvery ?? 4;
  const whoIs = new Map(options.providers.map((p) => [p.who.publicKey, p]));
  const effects: Effect[] = [];
  const runs: StageRun[] = [];
  let loopRoundTrips = 0;

  const before = new Set(net.state.jobs.keys());
  const submitted = must(net.send(options.requester, "submitJob", spec));
  const jobId = [...net.state.jobs.keys()].find((k) => !before.has(k))!;
  effects.push(...submitted.effects);
  const queue: Assign[] = [];
  const take = (list: readonly Effect[]) => {
    for (const e of list) if (e.type === "assign" && e.jobId === jobId) queue.push(e);
  };
  take(submitted.effects);

  const providerOf = (a: Assign): Identity => {
    const p = whoIs.get(a.provider);
    if (p === undefined)
      throw new SwitchyardError("UNKNOWN_NODE", `no local agent for provider ${a.provider}`);
    return p.who;
  };
  const commit = async (
    a: Assign,
    root: Hex32,
    outputJson: unknown,
    steps: number,
    checkpoints: number,
    wallMs: number,
    summary: string,
  ) => {
    const output = await outputs.put(canonicalBytes(outputJson));
    const seconds = spec.stages.find((s) => s.name === a.stage)?.seconds ?? 1;
    net.advance(seconds * 1000);
    const out = must(net.send(providerOf(a), "commitResult", { jobId, stage: a.stage, root, output, steps }));
    effects.push(...out.effects);
    take(out.effects);
    runs.push({
      name: a.stage,
      program: a.program,
      provider: a.provider,
      root,
      output,
      steps,
      checkpoints,
      wallMs,
      summary,
    });
    progress(
      `  ${a.stage.padEnd(10)} committed root ${root.slice(0, 16)}… after ${steps} steps (${summary})`,
    );
  };

  const heldLoopHalf = new Map<string, Assign>();
  while (net.state.jobs.get(jobId)?.status === "open") {
    const a = queue.shift();
    if (a === undefined) {
      // Nothing runnable: let sequencer time pass so verification windows close and deadlines fire.
      net.advance(net.state.params.verificationWindowMs + 1);
      const out = must(net.tick());
      effects.push(...out.effects);
      take(out.effects);
      const open = net.state.jobs.get(jobId)?.status === "open";
      if (open && queue.length === 0 && heldLoopHalf.size === 0 && !hasCommitted(net, jobId)) {
        throw new SwitchyardError(
          "ILLEGAL_TRANSITION",
          "the pipeline is stuck: no stage can be placed (see noMatch effects)",
        );
      }
      continue;
    }
    must(net.send(providerOf(a), "startStage", { jobId, stage: a.stage }));
    progress(
      `  ${a.stage.padEnd(10)} started on ${whoIs.get(a.provider)?.node.name} (${whoIs.get(a.provider)?.node.city})`,
    );

    if (a.program === "qaoa-maxcut" || a.program === "qaoa-optimizer") {
      const partner = [...heldLoopHalf.values()].find((h) => h.program !== a.program);
      if (partner === undefined) {
        heldLoopHalf.set(a.stage, a);
        continue;
      }
      heldLoopHalf.delete(partner.stage);
      const [qpu, cpu] = a.program === "qaoa-maxcut" ? [a, partner] : [partner, a];
      const t0 = performance.now();
      const params = qpu.params as { graph: never; angles: never };
      const iterations = Number((cpu.params as { iterations?: number }).iterations ?? 30);
      const loop = runQaoaLoop({ graph: params.graph, initial: params.angles, iterations, checkpointEvery });
      const wallMs = performance.now() - t0;
      loopRoundTrips = loop.rounds.length;
      const qpuRoot = merkleRoot(loop.rounds.map((r) => r.energy.root));
      const cuts = loop.rounds.map((r) => r.energy.expectedCut);
      const summary = `${iterations} rounds, expected cut ${cuts[0]!.toFixed(3)} → best ${loop.bestEnergy.toFixed(3)}`;
      await commit(
        qpu,
        qpuRoot,
        { expectedCuts: cuts },
        loop.rounds.length,
        loop.rounds.length,
        wallMs,
        summary,
      );
      await commit(
        cpu,
        loop.optimizerRoot,
        { best: loop.best, bestEnergy: loop.bestEnergy },
        iterations,
        iterations,
        wallMs,
        summary,
      );
      continue;
    }

    const upstream = await Promise.all(a.inputs.map((cid) => outputs.get(cid)));
    const input = bindInputs(a.program, a.params, upstream);
    const t0 = performance.now();
    const result = await pool.run({ program: a.program, input, checkpointEvery });
    const wallMs = performance.now() - t0;
    await commit(
      a,
      result.root,
      result.output,
      result.steps,
      result.checkpoints.length,
      wallMs,
      summarize(result.output),
    );
  }
  return { jobId, runs, effects, loopRoundTrips };
}

function hasCommitted(net: LocalNetwork, jobId: JobId): boolean {
  const job = net.state.jobs.get(jobId);
  return job !== undefined && [...job.stages.values()].some((s) => s.status === "committed");
}

function summarize(output: unknown): string {
  const o = output as Record<string, number>;
  if (typeof o["accuracy"] === "number") return `test accuracy ${(o["accuracy"] * 100).toFixed(1)}%`;
  if (typeof o["trainLoss"] === "number") {
    return `train loss ${o["trainLoss"].toFixed(4)}, train accuracy ${((100 * o["trainCorrect"]!) / o["trainExamples"]!).toFixed(1)}%`;
  }
  return "done";
}
