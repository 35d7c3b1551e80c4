/**
 * The row form of a log event, shared by every adapter: what is checked before a row is written and
 * what is checked when it is read back.
 */
import { canonicalize } from "../protocol/canonical.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import {
  decodeLogEvent,
  encodeLogEvent,
  genesisPrev,
  type StoredEvent,
  verifyChain,
} from "../protocol/log.ts";
import type { LogHead } from "./event-store.ts";

/** One stored event: the canonical JSON of `encodeLogEvent`, with seq, hash and prev beside it. */
export interface EventRow {
  readonly seq: number;
  readonly hash: Hex32;
  readonly prev: Hex32;
  readonly json: string;
}

/** Rows of one append call, and the network id when the call starts the log. */
export interface CheckedAppend {
  readonly rows: readonly EventRow[];
  readonly net: string | null;
  readonly head: LogHead;
}

/**
 * Check that `events` continue the log after `head` and encode them. The store re-verifies every
 * hash, not only the links: a row whose hash does not match its content would make the whole log
 * unverifiable from that seq on, so a sequencer bug must be stopped here, before it is durable.
 */
export function checkAppend(events: readonly StoredEvent[], head: LogHead | null): CheckedAppend {
  const first = events[0];
  const tail = events[events.length - 1];
  if (first === undefined || tail === undefined) {
    throw new SwitchyardError("MALFORMED", "an append needs at least one event");
  }
  const tailHash = verifyChain(events, head?.hash ?? genesisPrev, head?.seq ?? -1);
  let net: string | null = null;
  if (first.seq === 0) {
    if (first.payload.kind !== "sys" || first.payload.sys.type !== "genesis") {
      throw new SwitchyardError("CHAIN_BROKEN", "event 0 must be the genesis event: it names the network", {
        details: { seq: 0 },
      });
    }
    net = first.payload.sys.net;
  }
  const rows = events.map((e) => ({
    seq: e.seq,
    hash: e.hash,
    prev: e.prev,
    json: canonicalize(encodeLogEvent(e)),
  }));
  return { rows, net, head: { seq: tail.seq, hash: tailHash } };
}

/**
 * Decode a stored row. Corruption is reported as CHAIN_BROKEN naming the seq, whatever its form: a
 * JSON that no longer parses, or seq/prev columns that disagree with the JSON (the columns are what
 * queries use, the JSON is what is hashed, so they must not drift apart).
 */
export function decodeEventRow(row: EventRow, net: string): StoredEvent {
  let event: StoredEvent;
  try {
    event = { ...decodeLogEvent(JSON.parse(row.json), net), hash: row.hash };
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SwitchyardError("CHAIN_BROKEN", `stored event ${row.seq} cannot be decoded: ${reason}`, {
      details: { seq: row.seq },
      cause,
    });
  }
  if (event.seq !== row.seq || event.prev !== row.prev) {
    throw new SwitchyardError(
      "CHAIN_BROKEN",
      `stored event ${row.seq} disagrees with its own seq or prev column`,
      {
        details: { seq: row.seq },
      },
    );
  }
  return event;
}

/** Rows per query when reading: large enough to amortize a round trip, small enough to stream. */
export const readPageSize = 1000;
