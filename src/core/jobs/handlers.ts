/** Stage messages from providers (start, commit) and requesters (accept, cancel). */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Hex32, JobId } from "../../protocol/ids.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { ApplyContext, MessageContext } from "../context.ts";
import { type Job, type Stage, type State, stageKey } from "../state.ts";
import { transition } from "./lifecycle.ts";
import { placePending, releasePlacement } from "./placement.ts";
import { finishJobIfDone, settleStage } from "./settle.ts";

export function findStage(state: State, jobId: JobId, name: string): { job: Job; stage: Stage } {
  const job = state.jobs.get(jobId);
  if (job === undefined) throw new SwitchyardError("UNKNOWN_JOB", `no job ${jobId}`);
  const stage = job.stages.get(name);
  if (stage === undefined)
    throw new SwitchyardError("UNKNOWN_STAGE", `job ${jobId.slice(0, 12)}… has no stage ${name}`);
  return { job, stage };
}

function requireStatus(stage: Stage, status: Stage["status"], action: string): void {
  if (stage.status !== status) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `cannot ${action} stage ${stage.spec.name}: it is ${stage.status}`,
      {
        details: { stage: stage.spec.name, status: stage.status },
      },
    );
  }
}

function requireProvider(ctx: MessageContext, stage: Stage): void {
  if (stage.provider !== ctx.signer) {
    throw new SwitchyardError("NOT_AUTHORIZED", `stage ${stage.spec.name} is assigned to another provider`);
  }
}

export function applyStartStage(ctx: MessageContext, body: MessageBody<"startStage">): void {
  const { job, stage } = findStage(ctx.state, body.jobId, body.stage);
  requireProvider(ctx, stage);
  requireStatus(stage, "matched", "start");
  const p = ctx.state.params;
  // Integer arithmetic: declared seconds × percent allowance, plus a fixed grace.
  stage.deadline =
    ctx.time + Math.ceil((stage.spec.seconds * 1000 * p.runDeadlinePercent) / 100) + p.runGraceMs;
  transition(ctx, stageKey(job.id, stage.spec.name), stage, "running");
  ctx.journal.jobs.add(job.id);
}

export function applyCommitResult(ctx: MessageContext, body: MessageBody<"commitResult">): void {
  const { job, stage } = findStage(ctx.state, body.jobId, body.stage);
  requireProvider(ctx, stage);
  requireStatus(stage, "running", "commit a result for");
  stage.root = body.root as Hex32;
  stage.output = body.output as string as Hex32;
  stage.steps = body.steps;
  stage.deadline = ctx.time + ctx.state.params.verificationWindowMs;
  transition(ctx, stageKey(job.id, stage.spec.name), stage, "committed");
  ctx.journal.jobs.add(job.id);
  if (ctx.state.params.verificationWindowMs === 0) acceptAndContinue(ctx, job, stage);
}

export function applyAcceptStage(ctx: MessageContext, body: MessageBody<"acceptStage">): void {
  const { job, stage } = findStage(ctx.state, body.jobId, body.stage);
  if (job.requester !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", "only the requester can accept a result early");
  requireStatus(stage, "committed", "accept");
  acceptAndContinue(ctx, job, stage);
}

/** Settle a committed stage, then place the stages that were waiting for it. */
export function acceptAndContinue(ctx: ApplyContext, job: Job, stage: Stage): void {
  settleStage(ctx, job, stage);
  placePending(ctx);
  finishJobIfDone(ctx, job);
}

export function applyCancelJob(ctx: MessageContext, body: MessageBody<"cancelJob">): void {
  const job = ctx.state.jobs.get(body.jobId);
  if (job === undefined) throw new SwitchyardError("UNKNOWN_JOB", `no job ${body.jobId}`);
  if (job.requester !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", "only the requester can cancel a job");
  if (job.status !== "open") throw new SwitchyardError("ILLEGAL_TRANSITION", "the job has already finished");
  // Work already started runs to its result and is paid; everything not yet started is cancelled.
  for (const stage of job.stages.values()) {
    if (stage.status === "pending" || stage.status === "matched") {
      if (stage.status === "matched") releasePlacement(ctx, stage);
      delete stage.deadline;
      transition(ctx, stageKey(job.id, stage.spec.name), stage, "cancelled");
    }
  }
  ctx.journal.jobs.add(job.id);
  finishJobIfDone(ctx, job);
}
