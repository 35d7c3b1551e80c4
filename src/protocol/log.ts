/**
 * Log events: what the sequencer appends and the state machine applies. Each event carries its
 * sequence number, sequencer time and the hash of its predecessor, so the log is a hash chain and
 * any reordering, insertion or deletion is visible to anyone holding a receipt.
 */
import { z } from "zod";
import { canonicalBytes } from "./canonical.ts";
import { decodeEnvelope, type Envelope, encodeEnvelope } from "./envelope.ts";
import { SwitchyardError } from "./errors.ts";
import { taggedHash } from "./hash.ts";
import { type Hex32, hex32Schema } from "./ids.ts";
import { type Params, paramsSchema } from "./params.ts";

/** The hash that precedes event 0. */
export const genesisPrev = "0".repeat(64) as Hex32;

export const systemEventSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("genesis"),
    net: z.string().min(1).max(64),
    params: paramsSchema,
    /** A dev network lets anyone mint test credits through the faucet message. */
    devFaucet: z.boolean(),
  }),
  /** Time passes: deadlines and verification windows are evaluated at event.time. */
  z.strictObject({ type: z.literal("tick") }),
]);

export type SystemEvent = z.output<typeof systemEventSchema>;

export type LogPayload =
  | { readonly kind: "msg"; readonly env: Envelope }
  | { readonly kind: "sys"; readonly sys: SystemEvent };

export interface LogEvent {
  readonly seq: number;
  /** Sequencer time in ms since the Unix epoch: max(prev.time + 1, wall clock). */
  readonly time: number;
  readonly prev: Hex32;
  readonly payload: LogPayload;
}

/** A log event together with its own hash, as stored. */
export interface StoredEvent extends LogEvent {
  readonly hash: Hex32;
}

/** The wire/storage JSON form of an event (amounts as decimal strings). */
export function encodeLogEvent(e: LogEvent): Record<string, unknown> {
  const payload =
    e.payload.kind === "msg"
      ? { kind: "msg", env: encodeEnvelope(e.payload.env) }
      : { kind: "sys", sys: z.encode(systemEventSchema, e.payload.sys) };
  return { seq: e.seq, time: e.time, prev: e.prev, payload };
}

const storedHeader = z.strictObject({
  seq: z.number().int().min(0),
  time: z.number().int().min(0),
  prev: hex32Schema,
  payload: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("msg"), env: z.unknown() }),
    z.strictObject({ kind: z.literal("sys"), sys: z.unknown() }),
  ]),
});

/** Decode an event from its JSON form. `net` is checked for signed messages. */
export function decodeLogEvent(json: unknown, net: string): LogEvent {
  const h = storedHeader.safeParse(json);
  if (!h.success)
    throw new SwitchyardError("MALFORMED", `log event: ${h.error.issues[0]?.message ?? "invalid"}`);
  const { seq, time, prev, payload } = h.data;
  if (payload.kind === "msg") {
    return {
      seq,
      time,
      prev: prev as Hex32,
      payload: { kind: "msg", env: decodeEnvelope(payload.env, net) },
    };
  }
  const sys = systemEventSchema.safeParse(payload.sys);
  if (!sys.success)
    throw new SwitchyardError("MALFORMED", `system event: ${sys.error.issues[0]?.message ?? "invalid"}`);
  return { seq, time, prev: prev as Hex32, payload: { kind: "sys", sys: sys.data } };
}

/** The hash of an event: domain-tagged SHA-256 over its canonical bytes (which include `prev`). */
export function hashLogEvent(e: LogEvent): Hex32 {
  return taggedHash("event", canonicalBytes(encodeLogEvent(e)));
}

export function genesisEvent(net: string, params: Params, devFaucet: boolean, time: number): LogEvent {
  return {
    seq: 0,
    time,
    prev: genesisPrev,
    payload: { kind: "sys", sys: { type: "genesis", net, params, devFaucet } },
  };
}

/**
 * Check that `events` continue a chain whose last event had hash `prevHash` and seq `prevSeq`.
 * Throws CHAIN_BROKEN naming the first wrong sequence number.
 */
export function verifyChain(
  events: readonly StoredEvent[],
  prevHash: Hex32 = genesisPrev,
  prevSeq = -1,
): Hex32 {
  let expectedPrev = prevHash;
  let expectedSeq = prevSeq + 1;
  for (const e of events) {
    if (e.seq !== expectedSeq) {
      throw new SwitchyardError("CHAIN_BROKEN", `log has seq ${e.seq} where ${expectedSeq} was expected`, {
        details: { seq: expectedSeq },
      });
    }
    if (e.prev !== expectedPrev) {
      throw new SwitchyardError(
        "CHAIN_BROKEN",
        `event ${e.seq} does not point at the hash of event ${e.seq - 1}`,
        {
          details: { seq: e.seq },
        },
      );
    }
    const h = hashLogEvent(e);
    if (h !== e.hash) {
      throw new SwitchyardError(
        "CHAIN_BROKEN",
        `event ${e.seq} has been altered: its content does not match its hash`,
        {
          details: { seq: e.seq },
        },
      );
    }
    expectedPrev = h;
    expectedSeq++;
  }
  return expectedPrev;
}
