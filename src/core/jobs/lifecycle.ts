/**
 * The stage lifecycle. Every status change goes through `transition`, which records it in the
 * journal; the invariant checker then verifies each recorded change against `legalTransitions`
 * independently, so a handler that skips a step is caught even if it bypassed this table.
 *
 *   pending → matched → running → committed → accepted → settled
 *      ↑________|__________|           (deadline missed: reassigned, or failed after maxAttempts)
 *   pending/matched → cancelled (requester);  pending → failed (a dependency failed)
 *   committed → pending (a dispute proved the result wrong: placed again), or failed after maxAttempts
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { ApplyContext } from "../context.ts";
import type { Stage, StageStatus } from "../state.ts";

export const legalTransitions: Readonly<Record<StageStatus, readonly StageStatus[]>> = {
  pending: ["matched", "cancelled", "failed"],
  matched: ["running", "pending", "failed", "cancelled"],
  running: ["committed", "pending", "failed"],
  // A dispute that proves the result wrong sends the stage back to be placed again (or fails it).
  committed: ["accepted", "pending", "failed"],
  accepted: ["settled"],
  settled: [],
  failed: [],
  cancelled: [],
};

export const terminalStatuses: ReadonlySet<StageStatus> = new Set(["settled", "failed", "cancelled"]);

export function isLegalTransition(from: StageStatus, to: StageStatus): boolean {
  return legalTransitions[from].includes(to);
}

export function transition(ctx: ApplyContext, key: string, stage: Stage, to: StageStatus): void {
  const from = stage.status;
  if (!isLegalTransition(from, to)) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `stage ${stage.spec.name} cannot go from ${from} to ${to}`,
      {
        details: { stage: stage.spec.name, from, to },
      },
    );
  }
  stage.status = to;
  ctx.journal.transitions.push({ stage: key, from, to });
  const { pending, active } = ctx.state;
  pending.delete(key);
  active.delete(key);
  if (to === "pending") pending.set(key, true);
  else if (to === "matched" || to === "running" || to === "committed") active.set(key, true);
}
