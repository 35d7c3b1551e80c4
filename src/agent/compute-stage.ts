/**
 * Computes one assigned stage: the qpu half of a QAOA loop (served to its optimizer), the optimizer
 * half (driving its qpu), or an ordinary stage (fetch inputs, run in the pool). Returns what the
 * provider records and commits; the output is already in the agent's BlobStore.
 */
import type { Assignment, JobView } from "../protocol/api.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { MaxCutGraph, QaoaAngles } from "../runtime/programs/qaoa-maxcut.ts";
import { getJob, getNodes } from "../sdk/index.ts";
import type { StageResult } from "./journal.ts";
import { progressReporter } from "./progress.ts";
import type { ProviderContext } from "./provider-context.ts";
import { type LoopPairing, loopOf } from "./qaoa-loop.ts";
import { runOptimizerLoop } from "./qaoa-loop-optimizer.ts";
import { stageSealFor } from "./stage-seal.ts";
import { runCheatingStage, runStage, type StageWorkOptions } from "./stage-work.ts";

/**
 * Computes `a`, a stage of `job`, until the stage's run deadline.
 *
 * ```ts
 * const result = await computeStage(ctx, assignment, await getJob(ctx.client, { id: assignment.jobId }));
 * ```
 */
export async function computeStage(ctx: ProviderContext, a: Assignment, job: JobView): Promise<StageResult> {
  const view = job.stages.find((s) => s.name === a.stage);
  const deadline = view?.deadline ?? a.deadline;
  const loop = loopOf(job, a.stage);
  if (loop?.role === "qpu") return serveQpuHalf(ctx, a, deadline);
  if (loop?.role === "optimizer") return driveOptimizerHalf(ctx, a, loop, deadline);
  return computeOrdinaryStage(ctx, a, deadline, job);
}

async function serveQpuHalf(ctx: ProviderContext, a: Assignment, deadline: number): Promise<StageResult> {
  const params = a.params as { graph: MaxCutGraph; angles: QaoaAngles };
  const outcome = await ctx.loops.serve({
    jobId: a.jobId,
    stage: a.stage,
    graph: params.graph,
    angles: params.angles,
    deadline,
    partner: async () =>
      loopOf(await getJob(ctx.client, { id: a.jobId }), a.stage)?.partner.provider as
        | PublicKeyHex
        | undefined,
  });
  ctx.emit({ type: "loop", jobId: a.jobId, stage: a.stage, role: "qpu", rounds: outcome.rounds });
  const output = await ctx.blobs.put(canonicalBytes({ expectedCuts: outcome.expectedCuts }));
  return { root: outcome.root, output, steps: outcome.rounds };
}

async function driveOptimizerHalf(
  ctx: ProviderContext,
  a: Assignment,
  loop: LoopPairing,
  deadline: number,
): Promise<StageResult> {
  const qpu = await placedPartner(ctx, a.jobId, a.stage, deadline);
  const outcome = await runOptimizerLoop({
    jobId: a.jobId,
    qpuStage: qpu.name,
    qpuEndpoint: async (refresh) =>
      endpointOf(
        ctx,
        refresh ? (await placedPartner(ctx, a.jobId, a.stage, deadline)).provider! : qpu.provider!,
      ),
    params: a.params,
    ...(loop.iterations === undefined ? {} : { iterations: loop.iterations }),
    identity: ctx.identity,
    ed: nodeEd25519,
    pool: ctx.pool,
    checkpointEvery: ctx.checkpointEvery,
    fetch: ctx.fetch,
    deadline,
    signal: ctx.signal,
  });
  ctx.counters.loopRounds += outcome.rounds;
  ctx.counters.loopRoundTrips += outcome.roundTrips;
  ctx.counters.loopMs += outcome.loopMs;
  ctx.emit({
    type: "loop",
    jobId: a.jobId,
    stage: a.stage,
    role: "optimizer",
    rounds: outcome.rounds,
    roundTrips: outcome.roundTrips,
    loopMs: outcome.loopMs,
  });
  const output = await ctx.blobs.put(canonicalBytes(outcome.output));
  return { root: outcome.root, output, steps: outcome.steps };
}

async function computeOrdinaryStage(
  ctx: ProviderContext,
  a: Assignment,
  deadline: number,
  job: JobView,
): Promise<StageResult> {
  // A restricted stage runs only once its key is here: its states are sealed before they leave the run.
  const seal = await stageSealFor(ctx, a.jobId, a.stage, deadline, job);
  // Progress reports let the stage resume elsewhere if this agent vanishes (progress.ts).
  const reporter = progressReporter(ctx, {
    jobId: a.jobId,
    stage: a.stage,
    checkpointEvery: a.resume?.checkpointEvery ?? ctx.checkpointEvery,
    after: a.resume?.index ?? -1,
    everyMs: ctx.progressEveryMs,
    seal,
  });
  const options: StageWorkOptions = {
    pool: ctx.pool,
    blobs: ctx.blobs,
    checkpointEvery: ctx.checkpointEvery,
    seal,
    fetch: ctx.fetch,
    fallbackSources: () => otherEndpoints(ctx),
    timeLimitMs: Math.max(1_000, deadline - Date.now()),
    onInput: (transfer: InputReport) => reportInput(ctx, a, transfer),
    onCheckpoint: reporter.onCheckpoint,
    // The coordinator's blob cache first: the vanished provider is most likely gone.
    resumeSources: [`${ctx.client.url}/v1`],
    onResume: (outcome) =>
      ctx.emit({
        type: "resumed",
        jobId: a.jobId,
        stage: a.stage,
        index: a.resume?.index ?? 0,
        step: a.resume?.step ?? 0,
        ...outcome,
      }),
  };
  const run = await (ctx.cheat === undefined ? runStage(a, options) : runCheatingStage(a, options)).finally(
    () => reporter.close(),
  );
  return {
    root: run.root,
    output: run.output,
    steps: run.steps,
    checkpointEvery: run.checkpointEvery,
    manifest: run.manifest,
  };
}

type InputReport = Parameters<NonNullable<StageWorkOptions["onInput"]>>[0];

/** An `input` event per input of an ordinary stage: found locally, or fetched (and how). */
function reportInput(ctx: ProviderContext, a: Assignment, transfer: InputReport): void {
  if ("local" in transfer) {
    ctx.emit({ type: "input", jobId: a.jobId, stage: a.stage, cid: transfer.cid, local: true });
    return;
  }
  ctx.counters.bytesFetched += transfer.bytesReceived;
  const { cid, source, chunks, bytesReceived, requests, chunkRefetches, ms } = transfer;
  ctx.emit({
    type: "input",
    jobId: a.jobId,
    stage: a.stage,
    cid,
    local: false,
    transfer: {
      source,
      size: transfer.bytes.length,
      chunks,
      bytesReceived,
      requests,
      chunkRefetches,
      ms,
    },
  });
}

/** Other agents' endpoints: where to ask for an input whose producer is unknown or gone. */
async function otherEndpoints(ctx: ProviderContext): Promise<string[]> {
  return (await getNodes(ctx.client))
    .filter((n) => n.id !== ctx.me && n.endpoint !== undefined)
    .map((n) => n.endpoint!);
}

async function endpointOf(ctx: ProviderContext, provider: string): Promise<string> {
  const node = (await getNodes(ctx.client)).find((n) => n.id === provider);
  if (node?.endpoint === undefined) {
    throw new SwitchyardError(
      "UNKNOWN_NODE",
      `provider ${provider.slice(0, 12)}… has no registered endpoint`,
    );
  }
  return node.endpoint;
}

/** The loop partner of `stage`, once it has a provider (polled until `deadline`). */
async function placedPartner(ctx: ProviderContext, jobId: string, stage: string, deadline: number) {
  for (let attempt = 0; ; attempt++) {
    const partner = loopOf(await getJob(ctx.client, { id: jobId }), stage)?.partner;
    if (partner?.provider !== undefined && (partner.status === "matched" || partner.status === "running")) {
      return partner;
    }
    if (partner === undefined || Date.now() > deadline || ctx.signal.aborted) {
      throw new SwitchyardError(
        "UNKNOWN_STAGE",
        `stage ${stage} of job ${jobId.slice(0, 12)}… has no placed loop partner`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** Math.min(attempt, 5))));
  }
}
