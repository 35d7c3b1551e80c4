/**
 * Binary Merkle trees over 32-byte digests (checkpoint hashes, output hashes, content ids).
 *
 * Three rules make a root mean exactly one list of leaves:
 *
 * - **Leaves and inner nodes hash under different domains** (`merkle-leaf` and `merkle-node`). A
 *   leaf digest can therefore never be presented as an inner node, which closes the classic
 *   second-preimage attack where the concatenation of two children is passed off as a leaf.
 * - **An odd node at the end of a level is promoted unchanged** to the next level. It is *not*
 *   paired with a copy of itself, as Bitcoin does: duplication makes `[a, b, c]` and `[a, b, c, c]`
 *   share a root (CVE-2012-2459). With promotion, the shape of the tree is a function of the leaf
 *   count alone, and (because of the domain split) a root determines both the count and the leaves.
 * - **The root commits to the leaf count.** The published root is
 *   `taggedHash("merkle-root", u64be(count) ‖ top)`, where `top` is the last node standing (absent
 *   for an empty tree). Without this, a proof for the last leaf of `[a, b, c]` would also "prove"
 *   that leaf at index 4 of a 5-leaf tree, because promotion makes those two paths hash alike; with
 *   it, a verifier that is told the wrong count always fails. It also gives the empty tree a
 *   well-defined root, {@link emptyMerkleRoot}, that no non-empty list can match.
 */
import { fromHex, toHex } from "./bytes.ts";
import { SwitchyardError } from "./errors.ts";
import { taggedHash, taggedHasher } from "./hash.ts";
import type { Hex32 } from "./ids.ts";

// Inner levels stay as bytes: hex round trips at every node would cost more than the hashing.
const leafHash: (leaf: Uint8Array) => Uint8Array = taggedHasher("merkle-leaf");
const nodeHash: (left: Uint8Array, right: Uint8Array) => Uint8Array = taggedHasher("merkle-node");
const rootDomain = "merkle-root";

/** Root = taggedHash("merkle-root", count as 8 bytes big-endian ‖ top node, if any). */
function sealRoot(count: number, top: Uint8Array | undefined): Hex32 {
  const bytes = new Uint8Array(top === undefined ? 8 : 40);
  // Counts are safe integers (< 2^53), so the high and low 32-bit halves are exact.
  const view = new DataView(bytes.buffer);
  view.setUint32(0, Math.floor(count / 2 ** 32));
  view.setUint32(4, count % 2 ** 32);
  if (top !== undefined) bytes.set(top, 8);
  return taggedHash(rootDomain, bytes);
}

/**
 * The root of a tree with no leaves: the sealed root of count 0 with no top node.
 *
 * @example
 * merkleRoot([]) === emptyMerkleRoot; // true
 */
export const emptyMerkleRoot: Hex32 = sealRoot(0, undefined);

/**
 * Sibling digests from the leaf's level up to the root, bottom first. A level where the path's node
 * is the promoted odd one contributes no sibling, so a proof can be shorter than the tree's height.
 */
export type MerkleProof = readonly Hex32[];

const hex32 = /^[0-9a-f]{64}$/;

function checkLeaves(leaves: readonly Hex32[]): void {
  for (let i = 0; i < leaves.length; i++) {
    if (!hex32.test(leaves[i]!)) {
      throw new SwitchyardError("MALFORMED", `Merkle leaf ${i} is not 64 lowercase hex digits`, {
        details: { index: i },
      });
    }
  }
}

/** The next level up: pair neighbours, promote an odd last node unchanged. */
function parentLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const up: Uint8Array[] = [];
  for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(level[i]!, level[i + 1]!));
  if (level.length % 2 === 1) up.push(level[level.length - 1]!);
  return up;
}

/**
 * The Merkle root of `leaves`, in order. Throws MALFORMED if a leaf is not 64 lowercase hex digits.
 *
 * @example
 * const root = merkleRoot([checkpoint0, checkpoint1, outputHash]);
 */
export function merkleRoot(leaves: readonly Hex32[]): Hex32 {
  checkLeaves(leaves);
  if (leaves.length === 0) return emptyMerkleRoot;
  let level = leaves.map((leaf) => leafHash(fromHex(leaf)));
  while (level.length > 1) level = parentLevel(level);
  return sealRoot(leaves.length, level[0]!);
}

/**
 * The inclusion proof of `leaves[index]`: its siblings from the bottom up, skipping levels where
 * the path's node is promoted. Throws MALFORMED if `index` is not a position in `leaves`.
 *
 * @example
 * const proof = merkleProof(leaves, 2);
 * verifyMerkleProof(merkleRoot(leaves), leaves[2], 2, proof, leaves.length); // true
 */
export function merkleProof(leaves: readonly Hex32[], index: number): MerkleProof {
  checkLeaves(leaves);
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new SwitchyardError("MALFORMED", `Merkle proof index ${index} is outside 0..${leaves.length - 1}`, {
      details: { index, leafCount: leaves.length },
    });
  }
  const proof: Hex32[] = [];
  let level = leaves.map((leaf) => leafHash(fromHex(leaf)));
  let at = index;
  while (level.length > 1) {
    const sibling = at % 2 === 0 ? at + 1 : at - 1;
    // The promoted last node of an odd level has no sibling (sibling === level.length).
    if (sibling < level.length) proof.push(toHex(level[sibling]!) as Hex32);
    level = parentLevel(level);
    at = Math.floor(at / 2);
  }
  return proof;
}

/**
 * True when `proof` shows that `leaf` sits at `index` in a tree of `leafCount` leaves with this
 * `root`. Total: hostile input (bad hex, wrong lengths, out-of-range numbers, a proof too short or
 * too long) yields false, never a throw, so a verifier can call it on anything it receives.
 *
 * The tree's shape follows from `leafCount`, so the proof must have exactly the expected number
 * of siblings, and the root commits to the count, so a proof checked against a wrong count fails.
 * Index arithmetic is done in doubles rather than 32-bit bitwise operators so that a hostile
 * `index` above 2^31 cannot alias a small one.
 *
 * @example
 * verifyMerkleProof(root, leaf, 5, proof, 12); // true or false, never throws
 */
export function verifyMerkleProof(
  root: Hex32,
  leaf: Hex32,
  index: number,
  proof: MerkleProof,
  leafCount: number,
): boolean {
  if (!Number.isSafeInteger(leafCount) || !Number.isSafeInteger(index)) return false;
  if (leafCount < 1 || index < 0 || index >= leafCount) return false;
  if (!Array.isArray(proof) || !proof.every((p) => hex32.test(p))) return false;
  if (!hex32.test(root) || !hex32.test(leaf)) return false;
  let hash = leafHash(fromHex(leaf));
  let at = index;
  let width = leafCount;
  let used = 0;
  while (width > 1) {
    const isLeft = at % 2 === 0;
    // The promoted last node of an odd level consumes no sibling.
    if (!isLeft || at + 1 < width) {
      const s = proof[used++];
      if (s === undefined) return false;
      const sibling = fromHex(s);
      hash = isLeft ? nodeHash(hash, sibling) : nodeHash(sibling, hash);
    }
    at = Math.floor(at / 2);
    width = Math.ceil(width / 2);
  }
  return used === proof.length && sealRoot(leafCount, hash) === root;
}
