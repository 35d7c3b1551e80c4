/**
 * SHA-256 content ids and domain-separated hashing. Isomorphic (@noble/hashes), so the browser,
 * the core and the shells compute identical digests.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { concatBytes, toHex, utf8 } from "./bytes.ts";
import { canonicalBytes } from "./canonical.ts";
import type { Cid, Hex32, JobId, OfferId } from "./ids.ts";

export function sha256(bytes: Uint8Array): Uint8Array {
  return nobleSha256(bytes);
}

export function sha256Hex(bytes: Uint8Array): Hex32 {
  return toHex(nobleSha256(bytes)) as Hex32;
}

/**
 * Hash with a domain tag so a digest computed for one purpose (an event, a Merkle leaf, a beacon)
 * can never be replayed as a digest for another.
 */
export function taggedHash(domain: string, bytes: Uint8Array): Hex32 {
  return sha256Hex(concatBytes(domainTag(domain), bytes));
}

function domainTag(domain: string): Uint8Array {
  return utf8(`switchyard:${domain}\u0000`);
}

/**
 * A byte-level {@link taggedHash} for one domain, with the tag prepared once: for hot loops such as
 * Merkle levels, where hex round trips would cost more than the hashing. `taggedHasher(d)(a, b)`
 * is the raw digest of `taggedHash(d, a ‖ b)`.
 */
export function taggedHasher(domain: string): (...parts: readonly Uint8Array[]) => Uint8Array {
  const tag = domainTag(domain);
  return (...parts) => nobleSha256(concatBytes(tag, ...parts));
}

/** Hash of the canonical (RFC 8785) bytes of a JSON value under a domain tag. */
export function hashCanonical(domain: string, value: unknown): Hex32 {
  return taggedHash(domain, canonicalBytes(value));
}

/** The content id of a blob: plain SHA-256 of its bytes, hex-encoded. */
export function contentId(bytes: Uint8Array): Cid {
  return sha256Hex(bytes) as string as Cid;
}

/**
 * The id of the job a `submitJob` message creates: bound to its requester and the message's nonce,
 * so it is unique and known to the requester as soon as the message is signed.
 */
export function jobIdOf(requester: string, nonce: bigint): JobId {
  return hashCanonical("job", { requester, nonce: nonce.toString() }) as string as JobId;
}

/** The id of the offer a `postOffer` message creates (same construction as jobIdOf). */
export function offerIdOf(provider: string, nonce: bigint): OfferId {
  return hashCanonical("offer", { provider, nonce: nonce.toString() }) as string as OfferId;
}
