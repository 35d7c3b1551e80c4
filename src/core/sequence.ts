/**
 * Stamping an event for the log: the next seq, time = max(previous time + 1, wall clock) so time
 * is strictly increasing even if the wall clock steps back, and the hash of its predecessor. Pure:
 * the shell passes its clock reading in.
 */
import type { Hex32 } from "../protocol/ids.ts";
import type { LogEvent, LogPayload } from "../protocol/log.ts";
import type { State } from "./state.ts";

export function sequenceEvent(
  state: State,
  prevHash: Hex32,
  payload: LogPayload,
  wallClockMs: number,
): LogEvent {
  const time = state.seq < 0 ? wallClockMs : Math.max(state.time + 1, wallClockMs);
  return { seq: state.seq + 1, time, prev: prevHash, payload };
}
