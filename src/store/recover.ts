/**
 * Recovery: the state after the last durable event, rebuilt from the latest snapshot plus a replay
 * of the events after it. A chain that does not continue from the snapshot, a snapshot whose state
 * does not hash to its recorded hash, or an event the machine rejects refuses to start, with an
 * error that names the sequence number.
 */
import { apply, checkAllInvariants, createState, decodeState, type State, stateHash } from "../core/index.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { genesisPrev, verifyChain } from "../protocol/log.ts";
import type { EventStore, LogHead } from "./event-store.ts";

export interface Recovered {
  readonly state: State;
  /** The last event applied, or null for an empty log. */
  readonly head: LogHead | null;
  /** Seq of the snapshot recovery started from, or null when it replayed from genesis. */
  readonly fromSnapshot: number | null;
  readonly replayed: number;
}

export async function recoverState(store: EventStore): Promise<Recovered> {
  const snapshot = await store.latestSnapshot();
  let state = createState();
  let prev: Hex32 = genesisPrev;
  let prevSeq = -1;
  if (snapshot !== null) {
    state = decodeState(snapshot.state);
    const actual = stateHash(state);
    if (actual !== snapshot.stateHash) {
      throw new SwitchyardError(
        "STATE_HASH_MISMATCH",
        `snapshot at seq ${snapshot.seq} decodes to state hash ${actual}, not the recorded ${snapshot.stateHash}; delete the snapshot to replay from genesis`,
        { details: { seq: snapshot.seq } },
      );
    }
    if (state.seq !== snapshot.seq) {
      throw new SwitchyardError(
        "STATE_HASH_MISMATCH",
        `snapshot labelled seq ${snapshot.seq} holds the state after seq ${state.seq}`,
        {
          details: { seq: snapshot.seq },
        },
      );
    }
    prev = snapshot.eventHash;
    prevSeq = snapshot.seq;
  }
  let replayed = 0;
  for await (const event of store.read(prevSeq + 1)) {
    prev = verifyChain([event], prev, prevSeq);
    prevSeq = event.seq;
    const result = apply(state, event);
    if (!result.ok) {
      throw new SwitchyardError(
        "INVARIANT_VIOLATED",
        `event ${event.seq} in the log is rejected by the state machine (${result.error.code}: ${result.error.message})`,
        { details: { seq: event.seq }, cause: result.error },
      );
    }
    replayed++;
  }
  checkAllInvariants(state);
  return {
    state,
    head: prevSeq < 0 ? null : { seq: prevSeq, hash: prev },
    fromSnapshot: snapshot?.seq ?? null,
    replayed,
  };
}
