/**
 * The event hash, split so that the expensive part runs off the sequencer's thread.
 *
 * `hashLogEvent(e)` is the tagged SHA-256 of the canonical (RFC 8785) JSON of
 * `{payload, prev, seq, time}`. Canonical JSON of an object is its members in sorted key order —
 * here exactly payload, prev, seq, time — each value canonicalized on its own. So the payload's
 * canonical JSON (the costly part: encoding and canonicalizing the envelope, ~10 µs) can be
 * computed by the worker that verifies the envelope, before the event has a seq; the sequencer then
 * frames it with prev, seq and time (integers and a hex string, which canonicalize as themselves)
 * and hashes with node:crypto (~3 µs instead of ~20 µs on the main thread).
 *
 * This must equal `hashLogEvent` bit for bit; event-hash.test.ts checks it on random messages, and
 * the store recomputes `hashLogEvent` for every event it appends and refuses a mismatch before it is
 * durable (CHAIN_BROKEN, which halts the coordinator) — a divergence can stop the coordinator but
 * never enter the log.
 */
import { createHash } from "node:crypto";
import { canonicalize } from "../protocol/canonical.ts";
import { taggedHash } from "../protocol/hash.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { encodeLogEvent, genesisPrev, type LogEvent, type LogPayload } from "../protocol/log.ts";

const eventTag = "switchyard:event\u0000";

/** The canonical JSON of a payload, as it appears inside its event's canonical JSON. */
export function payloadJson(payload: LogPayload): string {
  return canonicalize(encodeLogEvent({ seq: 0, time: 0, prev: genesisPrev, payload })["payload"]);
}

/** `hashLogEvent(event)`, given `payloadJson(event.payload)`. */
export function hashEventWithPayload(event: LogEvent, payload: string): Hex32 {
  if (!Number.isSafeInteger(event.seq) || !Number.isSafeInteger(event.time)) {
    throw new RangeError("seq and time must be safe integers to frame an event hash");
  }
  return createHash("sha256")
    .update(
      `${eventTag}{"payload":${payload},"prev":"${event.prev}","seq":${event.seq},"time":${event.time}}`,
    )
    .digest("hex") as Hex32;
}

/**
 * `stateHash(state)` from `encodeState(state)`: the core defines the state hash as the tagged hash
 * of that encoding (core/codec.ts), so a snapshot need not encode the state twice. Pinned by
 * event-hash.test.ts; recovery re-checks every snapshot's hash against its decoded state.
 */
export function stateHashOfEncoded(encoded: Uint8Array): Hex32 {
  return taggedHash("state", encoded);
}
