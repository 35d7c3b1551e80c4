/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme). Signatures and hashes are computed over
 * these bytes, so two parties that hold the same value always sign the same bytes regardless of
 * key order or whitespace.
 *
 * Numbers are serialized as JCS prescribes (the ECMAScript shortest round-trip form, which is
 * exactly specified, so every engine agrees). Amounts never travel as numbers: the schemas make
 * them decimal strings.
 *
 * Only values with exactly one JSON reading are accepted; anything else is MALFORMED rather than
 * quietly coerced, because a coercion is a difference between what a signer meant and what it
 * signed: NaN, Infinity, bigint, functions, symbols, `undefined` inside an array and holes in
 * sparse arrays (JSON.stringify would write `null`), objects that are not plain (a Map or a Date
 * would otherwise become `{}`), and strings with lone surrogates (JCS takes I-JSON only, RFC 7493
 * §2.1). An object property whose value is `undefined` is omitted: that is how an absent optional
 * field looks after decoding. Nesting is limited to {@link maxDepth}, counted as in `json.ts`.
 */
import { SwitchyardError } from "./errors.ts";

export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

const encoder = new TextEncoder();

/**
 * The RFC 8785 text of `value`. Throws MALFORMED for values without a single JSON reading and
 * TOO_LARGE past {@link maxDepth}.
 *
 * @example
 * canonicalize({ b: [1, "x"], a: null }); // '{"a":null,"b":[1,"x"]}'
 */
export function canonicalize(value: unknown): string {
  return write(value, 0);
}

/** The UTF-8 bytes of {@link canonicalize}: what signatures and hashes cover. */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}

/**
 * Maximum nesting of arrays and objects accepted anywhere in the protocol; deeper input is
 * hostile. `[[1]]` nests 2 levels, the same count `jsonDepth` makes of its text, so a value
 * parsed within the limit can always be canonicalized.
 */
export const maxDepth = 32;

// With the u flag a well-formed surrogate pair is one code point, so only lone halves match.
const loneSurrogate = /\p{Surrogate}/u;

function writeString(s: string): string {
  if (loneSurrogate.test(s)) {
    throw new SwitchyardError(
      "MALFORMED",
      "strings must be well-formed Unicode: a lone surrogate has no UTF-8 form",
    );
  }
  // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 requires.
  return JSON.stringify(s);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `depth` is the number of arrays and objects that enclose `value`. */
function write(value: unknown, depth: number): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return writeString(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new SwitchyardError("MALFORMED", `canonical JSON has no encoding for ${value}`);
      }
      // -0 serializes as 0 (RFC 8785 §3.2.2.3).
      return Object.is(value, -0) ? "0" : String(value);
    case "object": {
      if (depth >= maxDepth)
        throw new SwitchyardError("TOO_LARGE", `value nests deeper than ${maxDepth} levels`);
      if (Array.isArray(value)) {
        // An index loop, not map(): map skips holes, and join would then write "[,1]".
        const items: string[] = [];
        for (let i = 0; i < value.length; i++) items.push(write(value[i], depth + 1));
        return `[${items.join(",")}]`;
      }
      if (value instanceof Uint8Array) {
        throw new SwitchyardError("MALFORMED", "bytes must be hex-encoded before canonicalization");
      }
      if (!isPlainObject(value)) {
        throw new SwitchyardError(
          "MALFORMED",
          `canonical JSON takes plain objects, not a ${value.constructor?.name}`,
        );
      }
      const obj = value as Record<string, unknown>;
      // JCS sorts keys by UTF-16 code units, which is what the default sort compares.
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${writeString(k)}:${write(obj[k], depth + 1)}`).join(",")}}`;
    }
    default:
      throw new SwitchyardError("MALFORMED", `canonical JSON cannot encode a ${typeof value}`);
  }
}
