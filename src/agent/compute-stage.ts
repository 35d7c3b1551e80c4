/**
 * Computes one assigned stage: the qpu half of a QAOA loop (served to its optimizer), the optimizer
 * half (driving its qpu), or an ordinary stage (fetch inputs, run in the pool). Returns what the
 * provider records and commits; the output is already in the agent's BlobStore.
 */
import type { PathEstimate } from "../core/routing/relay-path.ts";
import type { Assignment, InputSource, JobView } from "../protocol/api.ts";
import type { Json } from "../protocol/canonical.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { MessageBody } from "../protocol/messages.ts";
import type { MaxCutGraph, QaoaAngles } from "../runtime/programs/qaoa-maxcut.ts";
import { getJob, getNodes, signAndSubmit } from "../sdk/index.ts";
import { sealedInputFetcher } from "./input-path.ts";
import type { StageResult } from "./journal.ts";
import { progressReporter } from "./progress.ts";
import { type ProviderContext, reportError } from "./provider-context.ts";
import { type LoopPairing, loopOf } from "./qaoa-loop.ts";
import { runOptimizerLoop } from "./qaoa-loop-optimizer.ts";
import { keysForStage } from "./stage-seal.ts";
import { putOutput, runCheatingStage, runStage, type StageWorkOptions } from "./stage-work.ts";

/**
 * Computes `a`, a stage of `job`, until the stage's run deadline.
 *
 * ```ts
 * const result = await computeStage(ctx, assignment, await getJob(ctx.client, { id: assignment.jobId }));
 * ```
 */
export async function computeStage(ctx: ProviderContext, a: Assignment, job: JobView): Promise<StageResult> {
  const view = job.stages.find((s) => s.name === a.stage);
  // Under a progress lease, `deadline` is when the lease ends unless renewed; the work runs to the run deadline.
  const deadline = view?.runDeadline ?? view?.deadline ?? a.deadline;
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
  const { outputSeal } = await keysForStage(ctx, { ...a, deadline });
  const output = await putOutput(ctx.blobs, outputSeal, { expectedCuts: outcome.expectedCuts });
  return { root: outcome.root, output: output.cid, outputBytes: output.bytes, steps: outcome.rounds };
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
  const { outputSeal } = await keysForStage(ctx, { ...a, deadline });
  const output = await putOutput(ctx.blobs, outputSeal, outcome.output as Json);
  return { root: outcome.root, output: output.cid, outputBytes: output.bytes, steps: outcome.steps };
}

async function computeOrdinaryStage(
  ctx: ProviderContext,
  a: Assignment,
  deadline: number,
  job: JobView,
): Promise<StageResult> {
  // A stage of a sealed job runs only once its keys are here: its states (restricted stages) and its
  // output are sealed before they leave the run, and its inputs open with their stages' output keys.
  const { seal, outputSeal } = await keysForStage(ctx, { ...a, deadline }, job);
  // Progress reports let the stage resume elsewhere if this agent vanishes (progress.ts).
  const receipts: TransferReceipt[] = [];
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
    outputSeal,
    fetchInput: sealedInputFetcher(ctx, { jobId: a.jobId, deadline, job, stage: a.stage }),
    fetch: ctx.fetch,
    fallbackSources: () => otherEndpoints(ctx),
    timeLimitMs: Math.max(1_000, deadline - Date.now()),
    onInput: (transfer, input, path) => {
      reportInput(ctx, a, transfer);
      const receipt = transferReceipt(a, transfer, input, path);
      if (receipt !== undefined) receipts.push(receipt);
    },
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
  // Before the commit, while this agent is still the stage's provider: only it may acknowledge.
  await acknowledgeTransfers(ctx, receipts);
  return {
    root: run.root,
    output: run.output,
    steps: run.steps,
    checkpointEvery: run.checkpointEvery,
    manifest: run.manifest,
    ...(run.outputBytes === undefined ? {} : { outputBytes: run.outputBytes }),
  };
}

type InputReport = Parameters<NonNullable<StageWorkOptions["onInput"]>>[0];
type TransferReceipt = MessageBody<"acknowledgeTransfer">;

/**
 * The receipt for an input that moved from the node that produced it (docs/routing.md "Transfer fees
 * in the ledger"): an output of a stage this one runs after, fetched from its producer directly or
 * through a relay. Nothing is owed for an input found locally, a declared input, or one a third agent
 * served after every path failed.
 */
function transferReceipt(
  a: Assignment,
  transfer: InputReport,
  input: InputSource,
  path: PathEstimate | undefined,
): TransferReceipt | undefined {
  if ("local" in transfer || input.stage === undefined || input.producer === undefined) return undefined;
  const relayed = path?.kind === "relay" && path.relay !== undefined;
  if (!relayed && transfer.source !== input.from) return undefined;
  return {
    jobId: a.jobId as TransferReceipt["jobId"],
    stage: a.stage,
    input: transfer.cid,
    bytes: transfer.bytes.length,
    ...(relayed ? { via: path.relay as PublicKeyHex } : {}),
  };
}

/**
 * Signs each receipt: the core pays the producer's egress and the relay's fee from the job's
 * transfer budget. A refusal (a budget spent, a producer that declared no size) is reported and
 * does not hold up the stage: the data is here, and the receipt is the payees' claim, not ours.
 */
async function acknowledgeTransfers(
  ctx: ProviderContext,
  receipts: readonly TransferReceipt[],
): Promise<void> {
  for (const body of receipts) {
    try {
      await signAndSubmit(ctx.client, { identity: ctx.identity, type: "acknowledgeTransfer", body });
      ctx.emit({ type: "transferAcknowledged", ...body });
    } catch (error) {
      if (!isSwitchyardError(error) || error.code === "UNREACHABLE") throw error;
      reportError(ctx, error);
    }
  }
}

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
