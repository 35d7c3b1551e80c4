/**
 * Timers become `tick` system events. A tick is sequenced only when it can change something, so an
 * idle network's log does not grow by one event per interval forever:
 *
 * - some active stage (matched, running or committed) has a deadline at or before now — a start or
 *   run deadline to enforce, or a verification window to close; or
 * - a committed result waits for its verification beacon (verification/live.ts): the check is
 *   drawn from the next event, so one is sequenced promptly; or
 * - stages are waiting for a match and some other event was sequenced since the last tick — new
 *   stake, for instance, can make an offer eligible, and only a tick retries placement then (new
 *   offers and settlements retry it themselves); or
 * - a price epoch has ended and would move an index, change a utilization reading or start an
 *   index (core `priceEpochWouldChange`); once every index is at rest this stops asking.
 *
 * Nothing else in the core depends on time passing without an event (unbonding is released by the
 * `withdrawUnbonded` message, at that message's time).
 */
import type { Logger } from "pino";
import { priceEpochWouldChange, type State } from "../core/index.ts";
import type { JobId } from "../protocol/ids.ts";
import type { Sequencer } from "./sequencer.ts";

/** True when a tick at wall-clock time `now` could change the state. */
export function tickDue(state: State, now: number, lastTickSeq: number): boolean {
  if (state.pending.size > 0 && state.seq > lastTickSeq) return true;
  if (state.awaitingBeacon.size > 0) return true;
  for (const key of state.active.keys()) {
    const slash = key.indexOf("/");
    const deadline = state.jobs.get(key.slice(0, slash) as JobId)?.stages.get(key.slice(slash + 1))?.deadline;
    if (deadline !== undefined && deadline <= now) return true;
  }
  return priceEpochWouldChange(state, now);
}

export interface Ticker {
  stop(): Promise<void>;
}

/** Check every `intervalMs` whether a tick is due, and sequence one if so (one at a time). */
export function startTicker(
  sequencer: Sequencer,
  intervalMs: number,
  clock: () => number,
  logger: Logger,
): Ticker {
  let inFlight: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (inFlight !== null || sequencer.halted !== null) return;
    if (!tickDue(sequencer.state, clock(), sequencer.lastTickSeq)) return;
    inFlight = sequencer
      .tick()
      .then(
        () => {},
        (error: unknown) => logger.warn({ err: error }, "a tick was not sequenced"),
      )
      .finally(() => {
        inFlight = null;
      });
  }, intervalMs);
  // The HTTP server keeps the process alive; a forgotten ticker must not.
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
