/**
 * The Ed25519 port. Two adapters implement it: `ed25519.node.ts` (node:crypto, fast, Node only)
 * and `ed25519.noble.ts` (@noble/curves, runs in the browser). A property test proves they produce
 * identical keys and signatures, so a message signed in a browser verifies on a coordinator.
 */
export interface Ed25519 {
  readonly name: string;
  /** The 32-byte public key of a 32-byte secret seed. */
  publicKey(secret: Uint8Array): Uint8Array;
  /** A 64-byte deterministic signature (RFC 8032). */
  sign(secret: Uint8Array, message: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}
