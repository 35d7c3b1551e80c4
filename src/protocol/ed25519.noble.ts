import { ed25519 as noble } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concatBytes } from "./bytes.ts";
import type { Ed25519 } from "./ed25519.ts";

const Point = noble.Point;
const L = Point.Fn.ORDER;

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The point of an acceptable public key (see `ed25519.ts`), or undefined. */
function acceptableKeyPoint(publicKey: Uint8Array): InstanceType<typeof Point> | undefined {
  if (publicKey.length !== 32) return undefined;
  try {
    // zip215 = false: strict RFC 8032 decoding, refusing y >= p and a sign bit on x = 0.
    const A = Point.fromBytes(publicKey, false);
    return A.isSmallOrder() ? undefined : A;
  } catch {
    return undefined;
  }
}

/**
 * True when `publicKey` may sign under the Switchyard rule (see `ed25519.ts`): a canonical
 * encoding of a point that is not of small order. Shared by both adapters so they refuse the same
 * keys.
 */
export function isAcceptablePublicKey(publicKey: Uint8Array): boolean {
  return acceptableKeyPoint(publicKey) !== undefined;
}

/**
 * Portable Ed25519 (browser and Node). Keys and signatures come from noble; verification is the
 * cofactorless RFC 8032 check written out over noble's point arithmetic, because noble's own
 * `verify` is cofactored and would accept signatures that node:crypto refuses.
 */
export const nobleEd25519: Ed25519 = {
  name: "noble",
  publicKey: (secret) => noble.getPublicKey(secret),
  sign: (secret, message) => noble.sign(message, secret),
  verify: (publicKey, message, signature) => {
    const A = acceptableKeyPoint(publicKey);
    if (signature.length !== 64 || A === undefined) return false;
    try {
      const r = signature.subarray(0, 32);
      const s = littleEndian(signature.subarray(32));
      if (s >= L) return false;
      const k = littleEndian(sha512(concatBytes(r, publicKey, message))) % L;
      // Verification handles only public values, so variable-time arithmetic is fine.
      const expectedR = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k));
      return equalBytes(expectedR.toBytes(), r);
    } catch {
      return false;
    }
  },
};
