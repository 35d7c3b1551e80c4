/**
 * The provider's assignments in flight: at most one piece of work per (job, stage), and a retry with
 * backoff after a transient failure (coordinator or peer unreachable) until the stage's deadline.
 * The journal makes a retry resume, not repeat.
 */
import type { Assignment } from "../protocol/api.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { isUnreachable } from "../sdk/index.ts";
import { type ProviderContext, reportError, stageKey } from "./provider-context.ts";
import { workAssignment } from "./work-assignment.ts";

export interface AssignmentQueue {
  /** Works on `a` unless its stage is already in flight (the latest `a` is kept for a retry). */
  handle(a: Assignment): void;
  /** Whether the stage with this `stageKey` is being worked on now. */
  inFlight(key: string): boolean;
  /** Drops the pending retries (on stop). */
  cancelRetries(): void;
  /** Settles when the work in flight now has ended. */
  settled(): Promise<unknown>;
}

/**
 * ```ts
 * const queue = assignmentQueue(ctx);
 * for await (const a of assignments) queue.handle(a);
 * ```
 */
export function assignmentQueue(ctx: ProviderContext): AssignmentQueue {
  const inFlight = new Map<string, Promise<void>>();
  /** The latest word on each stage (a retry uses it rather than the assignment it began with). */
  const latest = new Map<string, Assignment>();
  const retries = new Map<string, number>();
  const retryTimers = new Set<ReturnType<typeof setTimeout>>();

  function retryLater(key: string, a: Assignment, error: unknown): void {
    // A coordinator or peer that cannot be reached now may be back in a moment (a restart),
    // and its re-delivery may have arrived while this attempt was still in flight: try again
    // with backoff until the deadline. The journal makes a retry resume, not repeat.
    const transient = isUnreachable(error) || isSwitchyardError(error, "STORE_UNAVAILABLE");
    const attempt = (retries.get(key) ?? 0) + 1;
    if (!transient || ctx.signal.aborted || Date.now() > (latest.get(key) ?? a).deadline + 60_000) return;
    retries.set(key, attempt);
    const timer = setTimeout(
      () => {
        retryTimers.delete(timer);
        handle(latest.get(key) ?? a);
      },
      Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)),
    );
    retryTimers.add(timer);
  }

  function handle(a: Assignment): void {
    const key = stageKey(a.jobId, a.stage);
    latest.set(key, a);
    if (ctx.signal.aborted || inFlight.has(key)) return;
    ctx.counters.assignments++;
    const done = workAssignment(ctx, a)
      .then(
        () => {
          retries.delete(key);
          latest.delete(key);
        },
        (error: unknown) => {
          reportError(ctx, error, a.jobId, a.stage);
          retryLater(key, a, error);
        },
      )
      .finally(() => inFlight.delete(key));
    inFlight.set(key, done);
  }

  return {
    handle,
    inFlight: (key) => inFlight.has(key),
    cancelRetries: () => {
      for (const timer of retryTimers) clearTimeout(timer);
    },
    settled: () => Promise.all(inFlight.values()),
  };
}
