import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
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
const publicKeys = new Map<string, KeyObject>();
// Parsing a DER key costs more than verifying with it; identities repeat, so keep a bounded cache.
const cacheLimit = 4096;

function cached(cache: Map<string, KeyObject>, raw: Uint8Array, make: () => KeyObject): KeyObject {
  const id = Buffer.from(raw).toString("hex");
  let key = cache.get(id);
  if (key === undefined) {
    key = make();
    if (cache.size >= cacheLimit) cache.clear();
    cache.set(id, key);
  }
  return key;
}

const privateKey = (secret: Uint8Array) =>
  cached(privateKeys, secret, () =>
    createPrivateKey({ key: der(pkcs8Prefix, secret), format: "der", type: "pkcs8" }),
  );
const publicKey = (pub: Uint8Array) =>
  cached(publicKeys, pub, () => createPublicKey({ key: der(spkiPrefix, pub), format: "der", type: "spki" }));

/** Ed25519 through node:crypto (OpenSSL). */
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
      return verify(null, message, publicKey(pub), signature);
    } catch {
      return false;
    }
  },
};
