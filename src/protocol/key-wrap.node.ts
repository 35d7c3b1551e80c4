/**
 * Sealing a stage key to one node (the `releaseKey` message, docs/routing.md "Key release in the
 * live network"). The recipient is named by its Ed25519 identity; the same key pair is used for
 * X25519 through the birational map to Curve25519 (RFC 7748 §4.1, the conversion libsodium calls
 * `crypto_sign_ed25519_pk_to_curve25519`), so a node needs no second registered key.
 *
 *   e, E       fresh X25519 key pair per sealing (never reused)
 *   shared     X25519(e, montgomery(recipient))
 *   wrap key   HKDF-SHA256(shared, salt = E ‖ recipient, info = "switchyard:stage-key-wrap:v1")
 *   sealed     E (32) ‖ ChaCha20-Poly1305(wrap key, nonce 0¹², stage key, AD) (32 + 16)
 *   AD         domain ‖ job id ‖ stage ‖ recipient: a sealed key moved to another stage, job or node
 *              does not open.
 *
 * The nonce is constant because every wrap key seals exactly one message (E is fresh each time).
 */
import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { concatBytes, fromHex, toHex, utf8 } from "./bytes.ts";
import { SwitchyardError } from "./errors.ts";
import type { JobId, PublicKeyHex } from "./ids.ts";
import { type StageKey, stageKeyFrom } from "./job-crypto.node.ts";
import { sealedStageKeyBytes } from "./messages.ts";

/** Which key this is: bound into the seal. */
export interface StageKeyContext {
  readonly jobId: JobId | string;
  readonly stage: string;
}

const algorithm = "chacha20-poly1305";
const nonce = new Uint8Array(12);

/**
 * The stage key sealed to `recipient` (its Ed25519 public key, hex): 80 bytes as lower-case hex, the
 * `sealed` field of a `releaseKey` message.
 *
 * @example
 * const sealed = sealStageKeyTo(provider, stageKey(jobKey, jobId, "train"), { jobId, stage: "train" });
 */
export function sealStageKeyTo(
  recipient: PublicKeyHex | string,
  key: StageKey,
  context: StageKeyContext,
): string {
  const recipientBytes = fromHex(recipient);
  let montgomery: Uint8Array;
  try {
    montgomery = ed25519.utils.toMontgomery(recipientBytes);
  } catch (cause) {
    throw new SwitchyardError("MALFORMED", "the recipient is not an Ed25519 public key", { cause });
  }
  const ephemeral = x25519.utils.randomSecretKey();
  const ephemeralPublic = x25519.getPublicKey(ephemeral);
  const wrapKey = deriveWrapKey(
    x25519.getSharedSecret(ephemeral, montgomery),
    ephemeralPublic,
    recipientBytes,
  );
  const cipher = createCipheriv(algorithm, wrapKey, nonce, { authTagLength: 16 });
  cipher.setAAD(associatedData(context, recipientBytes), { plaintextLength: key.length });
  const sealed = concatBytes(ephemeralPublic, cipher.update(key), cipher.final(), cipher.getAuthTag());
  return toHex(sealed);
}

/**
 * Open a stage key sealed to this node with {@link sealStageKeyTo}, using the node's Ed25519 secret
 * (the 32-byte seed of its identity).
 *
 * @throws SwitchyardError CORRUPTED when it was sealed to another node, stage or job, or altered.
 * @example const key = openStageKey(identity.secret, view.keys[0].sealed, { jobId, stage: "train" });
 */
export function openStageKey(secret: Uint8Array, sealedHex: string, context: StageKeyContext): StageKey {
  const sealed = fromHex(sealedHex);
  if (sealed.length !== sealedStageKeyBytes) {
    throw new SwitchyardError("CORRUPTED", `a sealed stage key is ${sealedStageKeyBytes} bytes`);
  }
  const recipientBytes = ed25519.getPublicKey(secret);
  const ephemeralPublic = sealed.subarray(0, 32);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(ed25519.utils.toMontgomerySecret(secret), ephemeralPublic);
  } catch (cause) {
    throw new SwitchyardError("CORRUPTED", "the sealed stage key has an invalid ephemeral key", { cause });
  }
  const wrapKey = deriveWrapKey(shared, ephemeralPublic, recipientBytes);
  const decipher = createDecipheriv(algorithm, wrapKey, nonce, { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(64));
  decipher.setAAD(associatedData(context, recipientBytes), { plaintextLength: 32 });
  const head = decipher.update(sealed.subarray(32, 64));
  try {
    return stageKeyFrom(concatBytes(head, decipher.final()));
  } catch {
    throw new SwitchyardError(
      "CORRUPTED",
      `the key of stage ${context.stage} does not open: it was sealed to another node, stage or job`,
      { details: { jobId: context.jobId, stage: context.stage } },
    );
  }
}

function deriveWrapKey(shared: Uint8Array, ephemeralPublic: Uint8Array, recipient: Uint8Array): Uint8Array {
  return new Uint8Array(
    hkdfSync(
      "sha256",
      shared,
      concatBytes(ephemeralPublic, recipient),
      utf8("switchyard:stage-key-wrap:v1"),
      32,
    ),
  );
}

function associatedData(context: StageKeyContext, recipient: Uint8Array): Uint8Array {
  return concatBytes(
    utf8("switchyard:stage-key:v1\u0000"),
    utf8(context.jobId),
    utf8(`\u0000${context.stage}\u0000`),
    recipient,
  );
}
