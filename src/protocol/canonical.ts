/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme). Signatures and hashes are computed over
 * these bytes, so two parties that hold the same value always sign the same bytes regardless of
 * key order or whitespace.
 *
 * Numbers are serialized as JCS prescribes (the ECMAScript shortest round-trip form, which is
 * exactly specified, so every engine agrees). Amounts never travel as numbers: the schemas make
 * them decimal strings. `undefined` in arrays, functions, bigint, NaN and Infinity are refused.
 */
import { SwitchyardError } from "./errors.ts";

export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

const encoder = new TextEncoder();

export function canonicalize(value: unknown): string {
  return write(value, 0);
}

export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}

/** Maximum nesting accepted anywhere in the protocol; deeper input is hostile. */
export const maxDepth = 32;

function write(value: unknown, depth: number): string {
  if (depth > maxDepth) throw new SwitchyardError("TOO_LARGE", `value nests deeper than ${maxDepth} levels`);
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new SwitchyardError("MALFORMED", `canonical JSON has no encoding for ${value}`);
      }
      // -0 serializes as 0 (RFC 8785 §3.2.2.3).
      return Object.is(value, -0) ? "0" : String(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((v) => write(v, depth + 1)).join(",")}]`;
      if (value instanceof Uint8Array) {
        throw new SwitchyardError("MALFORMED", "bytes must be hex-encoded before canonicalization");
      }
      const obj = value as Record<string, unknown>;
      // JCS sorts keys by UTF-16 code units, which is what the default sort compares.
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(obj[k], depth + 1)}`).join(",")}}`;
    }
    default:
      throw new SwitchyardError("MALFORMED", `canonical JSON cannot encode a ${typeof value}`);
  }
}
