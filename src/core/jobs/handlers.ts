/** Stage messages from providers (start, commit) and requesters (accept, cancel). */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Hex32, JobId } from "../../protocol/ids.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { MessageContext } from "../context.ts";
import { type Job, type Stage, type State, stageKey } from "../state.ts";
import { checkCommitLayout, onCommitted, waiveCheck } from "../verification/live.ts";
import { onReplicaCommitted, resolveGroupIfComplete } from "../verification/replication-live.ts";
import { transition } from "./lifecycle.ts";
import { releasePlacement } from "./placement.ts";
import { checkResumedCommit } from "./progress.ts";
import { acceptAndContinue, finishJobIfDone } from "./settle.ts";

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
  const run = ctx.time + Math.ceil((stage.spec.seconds * 1000 * p.runDeadlinePercent) / 100) + p.runGraceMs;
  stage.deadline = run;
  // Under a progress lease, kept apart: the first progress report starts the lease (progress.ts).
  if (p.progressTimeoutMs !== undefined) stage.runDeadline = run;
  transition(ctx, stageKey(job.id, stage.spec.name), stage, "running");
  ctx.journal.jobs.add(job.id);
}

export function applyCommitResult(ctx: MessageContext, body: MessageBody<"commitResult">): void {
  const { job, stage } = findStage(ctx.state, body.jobId, body.stage);
  requireProvider(ctx, stage);
  requireStatus(stage, "running", "commit a result for");
  checkCommitLayout(stage, body);
  checkResumedCommit(stage, body);
  const key = stageKey(job.id, stage.spec.name);
  stage.root = body.root as Hex32;
  stage.output = body.output as string as Hex32;
  if (body.outputBytes !== undefined) stage.outputBytes = body.outputBytes;
  stage.steps = body.steps;
  if (body.checkpointEvery !== undefined) stage.checkpointEvery = body.checkpointEvery;
  if (body.manifest !== undefined) stage.manifest = body.manifest;
  delete stage.progress;
  delete stage.runDeadline;
  stage.deadline = ctx.time + ctx.state.params.verificationWindowMs;
  transition(ctx, key, stage, "committed");
  ctx.journal.jobs.add(job.id);
  onCommitted(ctx, key, stage);
  if (stage.replication !== undefined) {
    onReplicaCommitted(ctx, job, stage);
    return;
  }
  // Without a policy and a window there is nothing to wait for; a checked stage waits for its beacon.
  if (ctx.state.params.verificationWindowMs === 0 && stage.check === undefined)
    acceptAndContinue(ctx, job, stage);
}

export function applyAcceptStage(ctx: MessageContext, body: MessageBody<"acceptStage">): void {
  const { job, stage } = findStage(ctx.state, body.jobId, body.stage);
  if (job.requester !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", "only the requester can accept a result early");
  requireStatus(stage, "committed", "accept");
  if (stage.replication !== undefined) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `stage ${stage.spec.name} is replicated: its group's quorum decides, not an early acceptance`,
    );
  }
  if (stage.check !== undefined && stage.check.phase !== "beacon") {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `stage ${stage.spec.name} is being verified (${stage.check.phase}); wait for the outcome`,
    );
  }
  if (stage.check !== undefined) waiveCheck(ctx, job, stage);
  else acceptAndContinue(ctx, job, stage);
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
  // A replica group whose last open member was cancelled is decided by the members that committed.
  for (const stage of job.stages.values()) resolveGroupIfComplete(ctx, job, stage);
  finishJobIfDone(ctx, job);
}
