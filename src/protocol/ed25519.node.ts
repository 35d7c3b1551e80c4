import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { isAcceptablePublicKey } from "./ed25519.noble.ts";
import type { Ed25519 } from "./ed25519.ts";

// node:crypto takes Ed25519 keys as DER; raw 32-byte keys are wrapped in these fixed prefixes
// (RFC 8410: PKCS#8 private key and SPKI public key for id-Ed25519, OID 1.3.101.112).
const pkcs8Prefix = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const spkiPrefix = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  return Buffer.concat([prefix, key]);
}

const privateKeys = new Map<string, KeyObject>();
/** A public key's KeyObject, or null for a key the shared rule refuses (see ed25519.ts). */
const publicKeys = new Map<string, KeyObject | null>();
// Parsing a DER key costs more than verifying with it; identities repeat, so keep a bounded cache.
const cacheLimit = 4096;

function cached<T>(cache: Map<string, T>, raw: Uint8Array, make: () => T): T {
  const id = Buffer.from(raw).toString("hex");
  if (cache.has(id)) return cache.get(id) as T;
  const key = make();
  if (cache.size >= cacheLimit) cache.clear();
  cache.set(id, key);
  return key;
}

const privateKey = (secret: Uint8Array) =>
  cached(privateKeys, secret, () =>
    createPrivateKey({ key: der(pkcs8Prefix, secret), format: "der", type: "pkcs8" }),
  );
// OpenSSL accepts small-order keys; screen them out once per key, so both adapters refuse them.
const publicKey = (pub: Uint8Array) =>
  cached(publicKeys, pub, () =>
    isAcceptablePublicKey(pub)
      ? createPublicKey({ key: der(spkiPrefix, pub), format: "der", type: "spki" })
      : null,
  );

/**
 * Ed25519 through node:crypto (OpenSSL), whose cofactorless check with strict S < L is the shared
 * rule once small-order and non-canonical keys are screened out (see ed25519.ts).
 */
export const nodeEd25519: Ed25519 = {
  name: "node",
  publicKey: (secret) => {
    const spki = createPublicKey(privateKey(secret)).export({ format: "der", type: "spki" });
    return new Uint8Array(spki.subarray(spkiPrefix.length));
  },
  sign: (secret, message) => new Uint8Array(sign(null, message, privateKey(secret))),
  verify: (pub, message, signature) => {
    if (pub.length !== 32 || signature.length !== 64) return false;
    try {
      const key = publicKey(pub);
      return key !== null && verify(null, message, key, signature);
    } catch {
      return false;
    }
  },
};
