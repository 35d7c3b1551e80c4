/**
 * The Ed25519 port. Two adapters implement it: `ed25519.node.ts` (node:crypto, fast, Node only)
 * and `ed25519.noble.ts` (@noble/curves, runs in the browser). A property test proves they produce
 * identical keys and signatures, so a message signed in a browser verifies on a coordinator.
 *
 * **One verification rule, everywhere.** RFC 8032 leaves verifiers room (cofactored or not, which
 * encodings to accept), and libraries differ: OpenSSL checks the cofactorless equation, while
 * noble by default checks the cofactored one under ZIP-215's lenient decoding. Left alone, the two
 * adapters disagree on crafted signatures — a mixed-order R, a small-order or non-canonical key — so
 * a coordinator and an auditor replaying the same log could disagree on which messages were valid.
 * Every adapter therefore implements exactly this rule, the intersection of RFC 8032 and what
 * OpenSSL does:
 *
 * 1. the key and signature are 32 and 64 bytes;
 * 2. the public key A is a canonical encoding (y < p, no sign bit on x = 0) of a point that is not
 *    of small order — a small-order key has no secret behind it, and with S = 0 a cofactorless
 *    check accepts it for any message;
 * 3. S < L (no malleated S + L);
 * 4. the cofactorless equation holds byte for byte: encode([S]B − [k]A) = R, with
 *    k = SHA-512(R ‖ A ‖ M) mod L. Comparing encodings also refuses a non-canonical R.
 *
 * `verify` is total: anything that fails the rule is `false`, never an exception.
 */
export interface Ed25519 {
  readonly name: string;
  /** The 32-byte public key of a 32-byte secret seed. */
  publicKey(secret: Uint8Array): Uint8Array;
  /** A 64-byte deterministic signature (RFC 8032). */
  sign(secret: Uint8Array, message: Uint8Array): Uint8Array;
  /** True when `signature` is valid under the rule above; false for anything else. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}
