/**
 * Deadlines on sequencer time, evaluated at every tick. A stage that was not started or not
 * committed in time is taken from its provider (whose stake pays the requester for the delay: the
 * log itself proves the deadline passed) and placed again — from the last checkpoint it reported,
 * if any (progress.ts) — or failed after `maxAttempts`. A
 * committed stage whose verification window closed is accepted and settled.
 */
import type { ApplyContext } from "../context.ts";
import { available } from "../ledger/accounts.ts";
import { slashForDelay } from "../ledger/handlers.ts";
import { missingKeys } from "../routing/keys.ts";
import type { Job, Stage } from "../state.ts";
import { recordReputation } from "../verification/check-steps.ts";
import { expireCheck } from "../verification/live.ts";
import { resolveGroupIfComplete } from "../verification/replication-live.ts";
import { transition } from "./lifecycle.ts";
import { forgetMatch, placePending, releasePlacement } from "./placement.ts";
import { keepProgress } from "./progress.ts";
import { acceptAndContinue, failStage, finishJobIfDone } from "./settle.ts";

function timeOut(ctx: ApplyContext, job: Job, key: string, stage: Stage): void {
  const provider = stage.provider!;
  slashForDelay(
    ctx,
    provider,
    available(job.requester),
    `missed the ${stage.status} deadline of ${stage.spec.name}`,
  );
  recordReputation(ctx, provider, stage, "timeout");
  releasePlacement(ctx, stage);
  stage.timedOut.push(provider);
  // The vanished provider's last reported checkpoint is where the next one resumes (failover).
  keepProgress(stage, provider, ctx.time);
  forgetMatch(stage);
  if (stage.attempts >= ctx.state.params.maxAttempts) {
    failForGood(ctx, job, key, stage, `no provider finished it in ${stage.attempts} attempts`);
    return;
  }
  transition(ctx, key, stage, "pending");
  ctx.effects.push({ type: "stageReassigned", jobId: job.id, stage: stage.spec.name, from: provider });
}

function failForGood(ctx: ApplyContext, job: Job, key: string, stage: Stage, reason: string): void {
  if (stage.replication !== undefined && stage.spec.name !== stage.replication.group) {
    // A replica that never finished: its group decides with the members that committed.
    transition(ctx, key, stage, "failed");
    stage.failure = reason;
    ctx.effects.push({ type: "stageFailed", jobId: job.id, stage: stage.spec.name, reason });
    resolveGroupIfComplete(ctx, job, stage);
  } else failStage(ctx, job, stage, reason);
  finishJobIfDone(ctx, job);
}

/**
 * A stage of a sealed job cannot start before the requester releases to its provider every key it
 * needs (routing/keys.ts `missingKeys`: the stage key of a restricted stage, the stage's output key,
 * the output keys of its inputs); the agent waits for them before `startStage`. If the start
 * deadline passes without them, the delay is the requester's: the provider is neither slashed nor
 * marked, and the stage fails (placing it again would wait for the same requester).
 */
function keyWithheld(job: Job, stage: Stage): boolean {
  return stage.status === "matched" && missingKeys(job, stage, stage.provider!, true).length > 0;
}

function failWithheldKey(ctx: ApplyContext, job: Job, key: string, stage: Stage): void {
  releasePlacement(ctx, stage);
  forgetMatch(stage);
  failForGood(ctx, job, key, stage, "the requester did not release the stage's keys to its provider in time");
}

export function applyTick(ctx: ApplyContext): void {
  const { state } = ctx;
  for (const key of [...state.active.keys()]) {
    const slash = key.indexOf("/");
    const job = state.jobs.get(key.slice(0, slash) as Job["id"]);
    const stage = job?.stages.get(key.slice(slash + 1));
    if (job === undefined || stage === undefined || stage.deadline === undefined || stage.deadline > ctx.time)
      continue;
    ctx.journal.jobs.add(job.id);
    if (stage.status === "committed") {
      if (stage.check !== undefined) expireCheck(ctx, job, key, stage);
      else acceptAndContinue(ctx, job, stage);
    } else if (keyWithheld(job, stage)) failWithheldKey(ctx, job, key, stage);
    else timeOut(ctx, job, key, stage);
  }
  placePending(ctx);
}
