import { ed25519 as noble } from "@noble/curves/ed25519.js";
import type { Ed25519 } from "./ed25519.ts";

/** Portable Ed25519 (browser and Node). */
export const nobleEd25519: Ed25519 = {
  name: "noble",
  publicKey: (secret) => noble.getPublicKey(secret),
  sign: (secret, message) => noble.sign(message, secret),
  verify: (publicKey, message, signature) => {
    try {
      return noble.verify(signature, message, publicKey);
    } catch {
      // Malformed points or lengths are simply invalid signatures, not crashes.
      return false;
    }
  },
};
