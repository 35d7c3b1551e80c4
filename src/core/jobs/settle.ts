/**
 * Settlement, exactly once per stage: pay the provider the agreed price for the declared work (split
 * by steps when a vanished provider's checkpoint was resumed), pay the protocol fee, and free the
 * stage's reserve. When every stage of a job is terminal the
 * rest of the escrow goes back to the requester.
 */
import type { ApplyContext } from "../context.ts";
import { available, escrow, treasury } from "../ledger/accounts.ts";
import { balanceOf, bpsCeil, post } from "../ledger/ledger.ts";
import { type Job, type Stage, stageKey } from "../state.ts";
import { terminalStatuses, transition } from "./lifecycle.ts";
import { placePending, releasePlacement } from "./placement.ts";
import { payoutsOf } from "./progress.ts";

export function stageCost(stage: Stage): bigint {
  return (stage.price ?? 0n) * BigInt(stage.spec.units) * BigInt(stage.spec.seconds);
}

export function settleStage(ctx: ApplyContext, job: Job, stage: Stage): void {
  const key = stageKey(job.id, stage.spec.name);
  transition(ctx, key, stage, "accepted");
  const cost = stageCost(stage);
  const fee = bpsCeil(cost, ctx.state.params.protocolFeeBps);
  // A stage resumed after its provider vanished pays each provider for its own steps (progress.ts).
  const payouts = payoutsOf(stage, cost);
  if (payouts === undefined) post(ctx.state, ctx.journal, escrow(job.id), available(stage.provider!), cost);
  else {
    for (const p of payouts) post(ctx.state, ctx.journal, escrow(job.id), available(p.provider), p.amount);
    stage.payouts = payouts;
  }
  post(ctx.state, ctx.journal, escrow(job.id), treasury, fee);
  stage.paid = cost;
  stage.fee = fee;
  stage.settlements++;
  delete stage.deadline;
  releasePlacement(ctx, stage);
  transition(ctx, key, stage, "settled");
  ctx.journal.jobs.add(job.id);
  ctx.effects.push({
    type: "stageSettled",
    jobId: job.id,
    stage: stage.spec.name,
    provider: stage.provider!,
    paid: cost,
    fee,
  });
}

/** Settle a committed stage, then place the stages that were waiting for it. */
export function acceptAndContinue(ctx: ApplyContext, job: Job, stage: Stage): void {
  settleStage(ctx, job, stage);
  placePending(ctx);
  finishJobIfDone(ctx, job);
}

/** Fail a stage and every pending stage that (transitively) runs after it. */
export function failStage(ctx: ApplyContext, job: Job, stage: Stage, reason: string): void {
  transition(ctx, stageKey(job.id, stage.spec.name), stage, "failed");
  stage.failure = reason;
  delete stage.deadline;
  delete stage.runDeadline;
  ctx.journal.jobs.add(job.id);
  ctx.effects.push({ type: "stageFailed", jobId: job.id, stage: stage.spec.name, reason });
  for (const other of job.stages.values()) {
    if (other.status === "pending" && other.spec.after.includes(stage.spec.name)) {
      failStage(ctx, job, other, `runs after ${stage.spec.name}, which failed`);
    }
  }
}

export function finishJobIfDone(ctx: ApplyContext, job: Job): void {
  if (job.status !== "open") return;
  for (const s of job.stages.values()) if (!terminalStatuses.has(s.status)) return;
  const refund = balanceOf(ctx.state, escrow(job.id));
  post(ctx.state, ctx.journal, escrow(job.id), available(job.requester), refund);
  job.status = "finished";
  job.refund = refund;
  // Stages failed or cancelled while pending leave a plan nothing will read again.
  delete job.plan;
  ctx.journal.jobs.add(job.id);
  ctx.effects.push({ type: "jobFinished", jobId: job.id, refund });
}
