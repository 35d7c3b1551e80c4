/**
 * Replay: rebuild the state from a log. A replay applies every event with the same `apply` the
 * sequencer used; an event the machine rejects means the log was not produced by an honest
 * sequencer, so replay stops and names its sequence number.
 */
import { SwitchyardError } from "../protocol/errors.ts";
import type { LogEvent } from "../protocol/log.ts";
import { checkAllInvariants } from "./invariants.ts";
import { apply } from "./machine.ts";
import { createState, type State } from "./state.ts";

export function replay(events: Iterable<LogEvent>, from: State = createState()): State {
  const state = from;
  for (const event of events) {
    const result = apply(state, event);
    if (!result.ok) {
      throw new SwitchyardError(
        "INVARIANT_VIOLATED",
        `replay: event ${event.seq} is rejected by the state machine (${result.error.code}: ${result.error.message})`,
        { details: { seq: event.seq }, cause: result.error },
      );
    }
  }
  checkAllInvariants(state);
  return state;
}
