/**
 * Canonical encoding of the state, for the state hash and for snapshots. Maps keep their
 * insertion order (which the log determines), so a state decoded from a snapshot iterates exactly
 * like one rebuilt by replay, and the hash covers that order too.
 */
import { canonicalize } from "../protocol/canonical.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { taggedHash } from "../protocol/hash.ts";
import type { Hex32 } from "../protocol/ids.ts";
import type { State } from "./state.ts";

function toJson(value: unknown): unknown {
  if (typeof value === "bigint") return { $n: value.toString() };
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [k, toJson(v)]) };
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJson(v);
    return out;
  }
  return value;
}

function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (typeof obj["$n"] === "string") return BigInt(obj["$n"]);
    if (Array.isArray(obj["$map"])) {
      return new Map((obj["$map"] as Array<[string, unknown]>).map(([k, v]) => [k, fromJson(v)]));
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = fromJson(v);
    return out;
  }
  return value;
}

export function encodeState(state: State): Uint8Array {
  return new TextEncoder().encode(canonicalize(toJson(state)));
}

export function decodeState(bytes: Uint8Array): State {
  try {
    return fromJson(JSON.parse(new TextDecoder().decode(bytes))) as State;
  } catch (cause) {
    throw new SwitchyardError("MALFORMED", "snapshot is not a valid encoded state", { cause });
  }
}

/** The state hash: what replicas, audits and receipts compare. */
export function stateHash(state: State): Hex32 {
  return taggedHash("state", encodeState(state));
}
