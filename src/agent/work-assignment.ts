/**
 * One assignment, worked through with the journal (docs/agent.md, "Reconnects and restarts"):
 * plan from what the journal and the coordinator say → startStage → compute → record → commit.
 * A start or commit the coordinator refuses is resolved from the job view: the stage is ours and
 * still open, our result is already committed, or the stage went on without us. Nothing is lost
 * and nothing runs twice.
 */
import type { Assignment } from "../protocol/api.ts";
import { isSwitchyardError, type SwitchyardError } from "../protocol/errors.ts";
import { getAssignments, getJob, signAndSubmit } from "../sdk/index.ts";
import { computeStage } from "./compute-stage.ts";
import { planStage, type StageRecord, type StageResult } from "./journal.ts";
import { type ProviderContext, stageKey } from "./provider-context.ts";
import { keysForStage } from "./stage-seal.ts";

type Settled = "committed" | "abandoned";

/**
 * Works `a` from wherever the journal says this agent left it.
 *
 * ```ts
 * await workAssignment(ctx, assignment); // started, computed (or a recorded result reused), committed
 * ```
 */
export async function workAssignment(ctx: ProviderContext, a: Assignment): Promise<void> {
  const record = ctx.journal.get(a.jobId, a.stage);
  const plan = planStage(record, a.status, false)!;
  ctx.emit({
    type: "assignment",
    assignment: a,
    plan: plan.result !== undefined ? "recommit" : plan.start ? "start" : "compute",
  });
  // A stage of a sealed job starts only once its keys are here: without them the run could not seal
  // its states and output or open its inputs, and a start deadline missed for want of a key is the
  // requester's (deadlines.ts).
  if (plan.start) await keysForStage(ctx, a);
  if (plan.start && !(await startOrSettle(ctx, a, record))) return;
  const base = recordBase(a);
  // A stage given back to us after it went elsewhere reopens its record; a result is kept.
  if (plan.result === undefined) await ctx.journal.record({ ...base, phase: "started" });
  else if (record?.phase === "abandoned")
    await ctx.journal.record({ ...base, phase: "computed", result: plan.result });
  let result = plan.result;
  if (result === undefined) result = await computeAndRecord(ctx, a);
  else ctx.counters.recommitted++;
  await commitOrSettle(ctx, a, result);
}

/**
 * After a (re)connect: journal records left open whose stage the coordinator no longer lists as
 * open work were either committed (an acknowledgement lost with the restart) or moved on without
 * us; the job view says which. Open ones come back through the catch-up and go to the queue.
 */
export async function reconcileJournal(
  ctx: ProviderContext,
  inFlight: (key: string) => boolean,
): Promise<void> {
  const open = new Set(
    (await getAssignments(ctx.client, { provider: ctx.me })).map((a) => stageKey(a.jobId, a.stage)),
  );
  for (const record of ctx.journal.all()) {
    if (record.phase === "committed" || record.phase === "abandoned") continue;
    const key = stageKey(record.jobId, record.stage);
    if (open.has(key) || inFlight(key)) continue;
    const where = await resolveFromJob(ctx, record.jobId, record.stage, record.result).catch(
      (error: unknown) => (isSwitchyardError(error, "UNKNOWN_JOB") ? "abandoned" : "open"),
    );
    if (where === "open") continue;
    const { jobId, stage, program, result } = record;
    await ctx.journal.record({
      jobId,
      stage,
      program,
      phase: where,
      ...(result === undefined ? {} : { result }),
    });
    reportSettled(ctx, record.jobId, record.stage, where, "the coordinator shows the stage elsewhere");
  }
}

/** Sends startStage. Returns false when the coordinator refused it because the stage is settled (recorded and reported). */
async function startOrSettle(
  ctx: ProviderContext,
  a: Assignment,
  record: StageRecord | undefined,
): Promise<boolean> {
  try {
    await signAndSubmit(ctx.client, {
      identity: ctx.identity,
      type: "startStage",
      body: { jobId: a.jobId, stage: a.stage },
    });
    return true;
  } catch (error) {
    if (!isRefusal(error)) throw error;
    const where = await resolveFromJob(ctx, a.jobId, a.stage, record?.result);
    if (where === "open") return true;
    await ctx.journal.record({
      ...recordBase(a),
      phase: where,
      ...(record?.result === undefined ? {} : { result: record.result }),
    });
    reportSettled(ctx, a.jobId, a.stage, where, error.message);
    return false;
  }
}

async function computeAndRecord(ctx: ProviderContext, a: Assignment): Promise<StageResult> {
  const t0 = performance.now();
  const result = await computeStage(ctx, a, await getJob(ctx.client, { id: a.jobId }));
  ctx.counters.computed++;
  await ctx.journal.record({ ...recordBase(a), phase: "computed", result });
  ctx.emit({ type: "computed", jobId: a.jobId, stage: a.stage, result, ms: performance.now() - t0 });
  return result;
}

/** Sends commitResult; a refusal is settled from the job view, or thrown while the stage is still open. */
async function commitOrSettle(ctx: ProviderContext, a: Assignment, result: StageResult): Promise<void> {
  try {
    const { receipt } = await signAndSubmit(ctx.client, {
      identity: ctx.identity,
      type: "commitResult",
      body: { jobId: a.jobId, stage: a.stage, ...result },
    });
    await ctx.journal.record({ ...recordBase(a), phase: "committed" });
    ctx.counters.committed++;
    ctx.emit({ type: "committed", jobId: a.jobId, stage: a.stage, seq: receipt.seq });
  } catch (error) {
    if (!isRefusal(error)) throw error;
    const where = await resolveFromJob(ctx, a.jobId, a.stage, result);
    if (where === "open") throw error;
    await ctx.journal.record({ ...recordBase(a), phase: where });
    reportSettled(ctx, a.jobId, a.stage, where, error.message);
  }
}

/** After a refused commit or start: what the coordinator holds decides. */
async function resolveFromJob(
  ctx: ProviderContext,
  jobId: string,
  stage: string,
  result: StageResult | undefined,
): Promise<Settled | "open"> {
  const job = await getJob(ctx.client, { id: jobId });
  const view = job.stages.find((s) => s.name === stage);
  if (view === undefined || view.provider !== ctx.me) return "abandoned";
  if (view.status === "matched" || view.status === "running") return "open";
  if (result !== undefined && view.root === result.root && view.output === result.output) return "committed";
  return "abandoned";
}

/** The coordinator refused a start or commit: the stage may be settled, or no longer ours. */
function isRefusal(error: unknown): error is SwitchyardError {
  return isSwitchyardError(error, "ILLEGAL_TRANSITION") || isSwitchyardError(error, "NOT_AUTHORIZED");
}

function reportSettled(
  ctx: ProviderContext,
  jobId: string,
  stage: string,
  where: Settled,
  reason: string,
): void {
  ctx.emit(
    where === "committed"
      ? { type: "committed", jobId, stage, already: true }
      : { type: "abandoned", jobId, stage, reason },
  );
}

const recordBase = (a: Assignment) => ({ jobId: a.jobId, stage: a.stage, program: a.program });
