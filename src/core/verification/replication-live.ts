/**
 * `replicate:k` in the live state machine (docs/verification.md §9): a stage with this policy is
 * submitted as a group of k stages — the primary and `<name>~2` … `<name>~k` — each placed on a
 * different provider and paid from its own reserve. When every member has committed (or failed),
 * the roots are compared: a strict majority of equal roots is the group's result. Members in the
 * majority are paid; a dissenter is not paid and its reputation records a failure, but it is not
 * slashed — a vote is not a proof (only a dispute or a missed deadline is). Without a majority no
 * result is accepted and the primary fails, with its dependents. Dependents read the agreed result.
 */
import type { Hex32 } from "../../protocol/ids.ts";
import type { ApplyContext } from "../context.ts";
import { transition } from "../jobs/lifecycle.ts";
import { releasePlacement } from "../jobs/placement.ts";
import { acceptAndContinue, failStage, finishJobIfDone } from "../jobs/settle.ts";
import type { CheckOutcome, Job, Stage } from "../state.ts";
import { stageKey } from "../state.ts";
import { recordReputation } from "./check-steps.ts";
import { replicationQuorum } from "./replication.ts";
import { groupMembers } from "./replication-group.ts";

/** A committed member waits for its group: no window closes it on its own. */
export function onReplicaCommitted(ctx: ApplyContext, job: Job, stage: Stage): void {
  delete stage.deadline;
  resolveGroupIfComplete(ctx, job, stage);
}

/** After a member committed or failed: resolve the group once no member is still on its way. */
export function resolveGroupIfComplete(ctx: ApplyContext, job: Job, stage: Stage): void {
  const r = stage.replication;
  if (r === undefined) return;
  const primary = job.stages.get(r.group);
  if (primary?.replication === undefined || primary.replication.outcome !== undefined) return;
  const members = groupMembers(r.group, r.k).map((name) => job.stages.get(name)!);
  if (members.some((m) => !["committed", "failed", "cancelled"].includes(m.status))) return;
  const committed = members.filter((m) => m.status === "committed");
  const quorum = Math.floor(r.k / 2) + 1;
  const outcome =
    committed.length < quorum
      ? ({ kind: "no-quorum", largest: 0 } as const)
      : replicationQuorum(
          committed.map((m) => ({ provider: m.spec.name, root: m.root! })),
          quorum,
        );
  ctx.journal.jobs.add(job.id);
  if (outcome.kind === "no-quorum") {
    primary.replication.outcome = "no-quorum";
    for (const m of committed) record(ctx, job, m, "no-quorum");
    for (const m of committed) if (m !== primary) failQuietly(ctx, job, m, "no quorum among the replicas");
    if (primary.status === "committed") {
      releasePlacement(ctx, primary);
      failStage(ctx, job, primary, `no ${quorum} of ${r.k} replicas agreed on a root`);
    }
    finishJobIfDone(ctx, job);
    return;
  }
  const agreeing = new Set(outcome.agreeing);
  const winner = committed.find((m) => agreeing.has(m.spec.name))!;
  primary.replication.outcome = "agreed";
  primary.replication.root = outcome.root;
  primary.replication.output = winner.output as Hex32;
  for (const m of committed) {
    if (agreeing.has(m.spec.name)) continue;
    record(ctx, job, m, "replica-dissent");
    recordReputation(ctx, m.provider!, m, "failure");
    failQuietly(
      ctx,
      job,
      m,
      `its root differs from the ${outcome.agreeing.length} of ${r.k} replicas that agreed`,
    );
  }
  for (const m of committed) {
    if (!agreeing.has(m.spec.name)) continue;
    record(ctx, job, m, "replica-agreed");
    recordReputation(ctx, m.provider!, m, "success");
    acceptAndContinue(ctx, job, m);
  }
}

function record(ctx: ApplyContext, job: Job, stage: Stage, outcome: CheckOutcome): void {
  stage.checks = [
    ...(stage.checks ?? []),
    {
      provider: stage.provider!,
      checked: true,
      ratePpm: 1_000_000,
      fee: 0n,
      outcome,
      slashed: [],
      at: ctx.time,
    },
  ];
  ctx.effects.push({
    type: "verification",
    jobId: job.id,
    stage: stage.spec.name,
    provider: stage.provider!,
    outcome,
  });
}

/** A member's result is not accepted; unlike failStage, its group's dependents are not failed. */
function failQuietly(ctx: ApplyContext, job: Job, stage: Stage, reason: string): void {
  releasePlacement(ctx, stage);
  transition(ctx, stageKey(job.id, stage.spec.name), stage, "failed");
  stage.failure = reason;
  delete stage.deadline;
  ctx.effects.push({ type: "stageFailed", jobId: job.id, stage: stage.spec.name, reason });
}
