/**
 * JSON parsing with limits checked before the parser runs: a 100 MB body or 100,000 nested
 * brackets are refused by counting, not by letting JSON.parse allocate them.
 */
import { SwitchyardError } from "./errors.ts";

export interface JsonLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

export const defaultJsonLimits: JsonLimits = { maxBytes: 1 << 20, maxDepth: 32 };

/** Nesting depth of a JSON text, ignoring brackets inside strings. Stops early past `limit`. */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

export function parseJsonLimited(text: string, limits: JsonLimits = defaultJsonLimits): unknown {
  // A UTF-16 unit is at least one UTF-8 byte, so a long string is refused without encoding it.
  const bytes = text.length > limits.maxBytes ? text.length : new TextEncoder().encode(text).length;
  if (bytes > limits.maxBytes) {
    throw new SwitchyardError("TOO_LARGE", `body is ${bytes} bytes; the limit is ${limits.maxBytes}`, {
      details: { bytes, limit: limits.maxBytes },
    });
  }
  if (jsonDepth(text, limits.maxDepth) > limits.maxDepth) {
    throw new SwitchyardError("TOO_LARGE", `JSON nests deeper than ${limits.maxDepth} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SwitchyardError("MALFORMED", `not valid JSON: ${(cause as Error).message}`, { cause });
  }
}
