/** Hex and byte helpers shared by every layer (isomorphic: no Buffer). */
import { SwitchyardError } from "./errors.ts";

const hexChars = "0123456789abcdef";
const byteToHex: string[] = Array.from({ length: 256 }, (_, i) => hexChars[i >> 4]! + hexChars[i & 15]!);

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += byteToHex[bytes[i]!]!;
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
    throw new SwitchyardError("MALFORMED", "expected lowercase hex with an even number of digits");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
