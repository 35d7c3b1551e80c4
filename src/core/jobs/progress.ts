/**
 * Failover (docs/routing.md, "Failover"): a running stage's provider reports its progress — the
 * hashes of the checkpoints it took and the content id of the last one's state, which it mirrored
 * to the coordinator's blob cache — and when it then vanishes, the missed run deadline (deadlines.ts)
 * keeps that checkpoint on the stage so the next provider resumes from it instead of from step 0.
 *
 *   reportProgress × r ─▶ stage.progress (checkpoints 0…j, state of j)
 *   run deadline missed ─▶ slashed as before; stage.resumeFrom = progress; a handoff [from, step_j)
 *   next provider ─▶ assignment carries the resume point ─▶ commits the full root (same layout)
 *   accepted ─▶ cost split pro rata by steps: each vanished provider its prefix, the last the rest
 *
 * The core never sees a state: it keeps hashes and content ids, and the resuming provider checks the
 * fetched state against the reported hash. Every handler validates before its first write.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Cid, Hex32, PublicKeyHex } from "../../protocol/ids.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { ApplyContext, MessageContext } from "../context.ts";
import type { Stage } from "../state.ts";

/** What a provider reported: checkpoint `index` of the layout (steps, checkpointEvery). */
export interface Progress {
  readonly by: PublicKeyHex;
  readonly index: number;
  readonly step: number;
  readonly steps: number;
  readonly checkpointEvery: number;
  /** Hash of checkpoint `index` (the last of `checkpoints`). */
  readonly hash: Hex32;
  /** Content id of checkpoint `index`'s encoded state. */
  readonly state: Cid;
  /** Hashes of checkpoints 0 … index: the leaves a resuming provider's root starts with. */
  readonly checkpoints: readonly Hex32[];
  /** Sequencer time of the report. */
  readonly at: number;
}

/** A vanished provider's share: steps [fromStep, toStep), ending at checkpoint `index`. */
export interface Handoff {
  readonly provider: PublicKeyHex;
  readonly fromStep: number;
  readonly toStep: number;
  readonly index: number;
  /** Sequencer time at which its missed deadline was detected. */
  readonly at: number;
}

/** One provider's part of a shared stage's payment. */
export interface Payout {
  readonly provider: PublicKeyHex;
  readonly fromStep: number;
  readonly toStep: number;
  readonly amount: bigint;
}

/**
 * Most checkpoint hashes a stage keeps from reports (about 1 MiB of state). A longer run reports no
 * further and, if its provider vanishes, resumes from the last checkpoint it could report.
 */
export const maxStageCheckpoints = 16_384;

/** The number of checkpoints of a run of `steps` steps every `every` (checkpointSteps' length). */
export function checkpointCount(steps: number, every: number): number {
  return Math.ceil(steps / every) + 1;
}

/** The step of checkpoint `index` (checkpointSteps(steps, every)[index], without the array). */
export function checkpointStep(index: number, steps: number, every: number): number {
  return Math.min(index * every, steps);
}

function refuse(message: string, details: Record<string, unknown> = {}): never {
  throw new SwitchyardError("MALFORMED", message, { details });
}

/**
 * `reportProgress` from the running stage's provider. The report must continue the layout and the
 * checkpoints already known — its own last report, or the checkpoint it resumed from — with exactly
 * the hashes in between.
 */
export function applyReportProgress(ctx: MessageContext, body: MessageBody<"reportProgress">): void {
  const job = ctx.state.jobs.get(body.jobId);
  if (job === undefined) throw new SwitchyardError("UNKNOWN_JOB", `no job ${body.jobId}`);
  const stage = job.stages.get(body.stage);
  if (stage === undefined)
    throw new SwitchyardError("UNKNOWN_STAGE", `job ${body.jobId.slice(0, 12)}… has no stage ${body.stage}`);
  if (stage.provider !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", `stage ${stage.spec.name} is assigned to another provider`);
  if (stage.status !== "running") {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `cannot report progress on stage ${stage.spec.name}: it is ${stage.status}`,
      { details: { stage: stage.spec.name, status: stage.status } },
    );
  }
  const { index, step, steps, checkpointEvery } = body;
  if (
    index >= checkpointCount(steps, checkpointEvery) ||
    step !== checkpointStep(index, steps, checkpointEvery)
  ) {
    refuse(`checkpoint ${index} of ${steps} steps every ${checkpointEvery} is not at step ${step}`, {
      index,
      step,
      steps,
      checkpointEvery,
    });
  }
  // What the report continues: this provider's own last report, else the checkpoint it resumed from.
  const mine = stage.progress?.by === ctx.signer ? stage.progress : undefined;
  const base = mine ?? stage.resumeFrom;
  if (base !== undefined && (base.steps !== steps || base.checkpointEvery !== checkpointEvery)) {
    refuse(
      `the run is ${base.steps} steps checkpointed every ${base.checkpointEvery}; a report cannot change that`,
    );
  }
  const known = base?.index ?? -1;
  if (index <= known) {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `checkpoint ${index} is not after checkpoint ${known}`, {
      details: { index, last: known },
    });
  }
  if (body.checkpoints.length !== index - known) {
    refuse(`a report up to checkpoint ${index} after checkpoint ${known} carries ${index - known} hashes`, {
      expected: index - known,
      got: body.checkpoints.length,
    });
  }
  if (index + 1 > maxStageCheckpoints) {
    throw new SwitchyardError(
      "TOO_LARGE",
      `a stage keeps at most ${maxStageCheckpoints} reported checkpoints`,
      {
        details: { index, limit: maxStageCheckpoints },
      },
    );
  }
  const hashes = body.checkpoints as Hex32[];
  stage.progress = {
    by: ctx.signer,
    index,
    step,
    steps,
    checkpointEvery,
    hash: hashes[hashes.length - 1]!,
    state: body.state as Cid,
    checkpoints: [...(base?.checkpoints ?? []), ...hashes],
    at: ctx.time,
  };
  renewLease(ctx, stage);
  ctx.journal.jobs.add(job.id);
}

/**
 * Under a `progressTimeoutMs` lease, the running stage's deadline becomes the earlier of its run
 * deadline and `progressTimeoutMs` from now. The first report starts the lease and each later one
 * renews it, so a provider that reported and then fell silent is caught by the tick like one that
 * missed its run deadline (deadlines.ts). A stage whose provider never reports (the QAOA loop
 * halves do not; nor does a program before its first checkpoint report) keeps its run deadline.
 */
export function renewLease(ctx: ApplyContext, stage: Stage): void {
  const lease = ctx.state.params.progressTimeoutMs;
  if (lease === undefined || stage.runDeadline === undefined) return;
  stage.deadline = Math.min(stage.runDeadline, ctx.time + lease);
}

/**
 * At a missed deadline, before the stage is taken from `provider`: its last report becomes the
 * resume point and its prefix a handoff, paid if the stage's result is accepted. Stale progress (of
 * an earlier provider) is dropped.
 */
export function keepProgress(stage: Stage, provider: PublicKeyHex, time: number): void {
  const progress = stage.progress;
  delete stage.progress;
  if (progress === undefined || progress.by !== provider) return;
  const fromStep = stage.resumeFrom?.step ?? 0;
  stage.handoffs = [
    ...(stage.handoffs ?? []),
    { provider, fromStep, toStep: progress.step, index: progress.index, at: time },
  ];
  stage.resumeFrom = progress;
}

/** A resumed stage's commitment must keep the layout its prefix was reported in. */
export function checkResumedCommit(stage: Stage, body: MessageBody<"commitResult">): void {
  const from = stage.resumeFrom;
  if (from === undefined) return;
  if (body.steps !== from.steps || body.checkpointEvery !== from.checkpointEvery) {
    refuse(
      `stage ${stage.spec.name} resumed from a run of ${from.steps} steps checkpointed every ${from.checkpointEvery}; commit that layout`,
      { steps: from.steps, checkpointEvery: from.checkpointEvery },
    );
  }
}

/**
 * How a shared stage's `cost` is split: each vanished provider is paid its steps' share, rounded
 * down, and the provider that finished the stage the rest, so the parts sum to `cost` exactly and
 * the requester pays once for each step. Undefined when one provider did all the steps.
 *
 * @example
 * // 100 steps; the first provider vanished after 30: 1,000 µ → 300 + 700.
 * payoutsOf({ ...stage, steps: 100, handoffs: [{ provider: a, fromStep: 0, toStep: 30, … }] }, 1000n);
 */
export function payoutsOf(stage: Stage, cost: bigint): Payout[] | undefined {
  const handoffs = stage.handoffs;
  const steps = stage.steps ?? 0;
  if (handoffs === undefined || handoffs.length === 0 || steps === 0) return undefined;
  const payouts: Payout[] = [];
  let shared = 0n;
  for (const h of handoffs) {
    const amount = (cost * BigInt(h.toStep - h.fromStep)) / BigInt(steps);
    payouts.push({ provider: h.provider, fromStep: h.fromStep, toStep: h.toStep, amount });
    shared += amount;
  }
  const last = handoffs[handoffs.length - 1]!;
  payouts.push({ provider: stage.provider!, fromStep: last.toStep, toStep: steps, amount: cost - shared });
  return payouts;
}

/**
 * The first segment a spot check of the stage may draw: a resumed stage's verifier can only start
 * from states the finishing provider holds, which begin at the checkpoint it resumed from.
 */
export function firstCheckableSegment(stage: Stage): number {
  return stage.resumeFrom?.index ?? 0;
}
