import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { fromHex, toHex } from "./bytes.ts";
import { isSwitchyardError } from "./errors.ts";
import { sha256Hex, taggedHash } from "./hash.ts";
import type { Hex32 } from "./ids.ts";
import { emptyMerkleRoot, type MerkleProof, merkleProof, merkleRoot, verifyMerkleProof } from "./merkle.ts";

const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b) as Hex32);
/** Distinct leaves, so that "the leaf at index j" names one value. */
const leaves = (max = 40) => fc.uniqueArray(digest, { minLength: 1, maxLength: max });
const leavesAndIndex = leaves().chain((ls) => fc.tuple(fc.constant(ls), fc.nat({ max: ls.length - 1 })));
const h = (label: string) => sha256Hex(new TextEncoder().encode(label));

// The format, spelled out with taggedHash so any change to it fails here first.
const leafHash = (x: Hex32) => taggedHash("merkle-leaf", fromHex(x));
const nodeHash = (l: Hex32, r: Hex32) => taggedHash("merkle-node", fromHex(l + r));
const seal = (count: number, top: Hex32) =>
  taggedHash("merkle-root", fromHex(count.toString(16).padStart(16, "0") + top));

describe("Merkle trees", () => {
  it("root of [a, b, c] = seal(3, node(node(leaf a, leaf b), leaf c)): the odd last node is promoted", () => {
    const [a, b, c] = [h("a"), h("b"), h("c")];
    assert.equal(merkleRoot([a, b, c]), seal(3, nodeHash(nodeHash(leafHash(a), leafHash(b)), leafHash(c))));
  });

  it("root of one leaf = seal(1, leaf hash): the raw leaf is never the root", () => {
    const a = h("a");
    assert.equal(merkleRoot([a]), seal(1, leafHash(a)));
    assert.notEqual(merkleRoot([a]), a);
  });

  it("the empty tree has a fixed root: taggedHash('merkle-root', count 0 as 8 zero bytes)", () => {
    assert.equal(merkleRoot([]), emptyMerkleRoot);
    assert.equal(emptyMerkleRoot, taggedHash("merkle-root", new Uint8Array(8)));
    assert.notEqual(merkleRoot([h("a")]), emptyMerkleRoot);
  });

  it("[a, b, c] and [a, b, c, c] have different roots (no CVE-2012-2459 duplication ambiguity)", () => {
    const [a, b, c] = [h("a"), h("b"), h("c")];
    assert.notEqual(merkleRoot([a, b, c]), merkleRoot([a, b, c, c]));
  });

  it("error: an inner node cannot be passed off as a leaf (second preimage)", () => {
    const [a, b, c, d] = [h("a"), h("b"), h("c"), h("d")];
    const ab = nodeHash(leafHash(a), leafHash(b));
    const cd = nodeHash(leafHash(c), leafHash(d));
    const root = merkleRoot([a, b, c, d]);
    assert.notEqual(merkleRoot([ab, cd]), root);
    for (const count of [2, 3, 4]) {
      assert.equal(verifyMerkleProof(root, ab, 0, [cd], count), false);
    }
  });

  it("property: every leaf's proof verifies", () => {
    fc.assert(
      fc.property(leaves(), (ls) => {
        const root = merkleRoot(ls);
        ls.forEach((leaf, i) => {
          assert.equal(verifyMerkleProof(root, leaf, i, merkleProof(ls, i), ls.length), true);
        });
      }),
    );
  });

  it("property: a proof has at most ceil(log2 n) siblings", () => {
    fc.assert(
      fc.property(leavesAndIndex, ([ls, i]) => {
        assert.ok(merkleProof(ls, i).length <= Math.ceil(Math.log2(ls.length)));
      }),
    );
  });

  it("property: a proof for a changed leaf fails", () => {
    fc.assert(
      fc.property(leavesAndIndex, digest, ([ls, i], other) => {
        fc.pre(other !== ls[i]);
        assert.equal(verifyMerkleProof(merkleRoot(ls), other, i, merkleProof(ls, i), ls.length), false);
      }),
    );
  });

  it("property: a proof checked at another index fails", () => {
    fc.assert(
      fc.property(leavesAndIndex, ([ls, i]) => {
        const root = merkleRoot(ls);
        const proof = merkleProof(ls, i);
        for (let j = 0; j < ls.length; j++) {
          if (j !== i)
            assert.equal(verifyMerkleProof(root, ls[i]!, j, proof, ls.length), false, `index ${j}`);
        }
      }),
    );
  });

  it("property: a proof checked against another leaf count fails", () => {
    fc.assert(
      fc.property(leavesAndIndex, fc.integer({ min: 1, max: 80 }), ([ls, i], count) => {
        fc.pre(count !== ls.length && i < count);
        assert.equal(verifyMerkleProof(merkleRoot(ls), ls[i]!, i, merkleProof(ls, i), count), false);
      }),
    );
  });

  it("error: the last leaf of [a, b, c] is not provable at index 4 of a 5-leaf tree, though the paths hash alike", () => {
    const ls = [h("a"), h("b"), h("c")];
    const proof = merkleProof(ls, 2);
    assert.equal(verifyMerkleProof(merkleRoot(ls), ls[2]!, 4, proof, 5), false);
  });

  it("property: the root changes when any leaf changes", () => {
    fc.assert(
      fc.property(leavesAndIndex, digest, ([ls, i], other) => {
        fc.pre(other !== ls[i]);
        const changed = ls.with(i, other);
        assert.notEqual(merkleRoot(changed), merkleRoot(ls));
      }),
    );
  });

  it("property: the root changes when leaves are reordered, appended or dropped", () => {
    fc.assert(
      fc.property(leaves(), digest, (ls, extra) => {
        const root = merkleRoot(ls);
        assert.notEqual(merkleRoot([...ls, extra]), root);
        if (ls.length > 1) {
          assert.notEqual(merkleRoot(ls.slice(0, -1)), root);
          assert.notEqual(merkleRoot([...ls].reverse()), root);
        }
      }),
    );
  });

  it("error: a proof with a sibling added, removed or altered fails", () => {
    const ls = Array.from({ length: 11 }, (_, i) => h(`leaf ${i}`));
    const root = merkleRoot(ls);
    const proof = merkleProof(ls, 6);
    const variants: MerkleProof[] = [[...proof, h("x")], proof.slice(0, -1), proof.with(0, h("x")), []];
    for (const p of variants) assert.equal(verifyMerkleProof(root, ls[6]!, 6, p, ls.length), false);
  });

  it("error: hostile arguments make verifyMerkleProof return false, never throw", () => {
    const ls = [h("a"), h("b"), h("c")];
    const root = merkleRoot(ls);
    const proof = merkleProof(ls, 0);
    const upper = root.toUpperCase() as Hex32;
    const cases: Array<[Hex32, Hex32, number, MerkleProof, number]> = [
      [upper, ls[0]!, 0, proof, 3],
      [root, ls[0]!.slice(2) as Hex32, 0, proof, 3],
      [root, `${ls[0]!}00` as Hex32, 0, proof, 3],
      [root, ls[0]!, -1, proof, 3],
      [root, ls[0]!, 3, proof, 3],
      [root, ls[0]!, 0.5, proof, 3],
      [root, ls[0]!, Number.NaN, proof, 3],
      [root, ls[0]!, 0, proof, 0],
      [root, ls[0]!, 0, proof, Number.POSITIVE_INFINITY],
      [root, ls[0]!, 2 ** 40, proof, 2 ** 41],
      [root, ls[0]!, 0, ["zz" as Hex32], 3],
      [root, ls[0]!, 0, "not an array" as unknown as MerkleProof, 3],
    ];
    for (const args of cases) assert.equal(verifyMerkleProof(...args), false, JSON.stringify(args.slice(2)));
  });

  it("error: merkleProof of an index outside the leaves, or merkleRoot of a non-digest leaf, is MALFORMED", () => {
    const ls = [h("a"), h("b")];
    for (const i of [-1, 2, 0.5]) {
      assert.throws(
        () => merkleProof(ls, i),
        (e) => isSwitchyardError(e, "MALFORMED"),
      );
    }
    assert.throws(
      () => merkleRoot([h("a"), "xyz" as Hex32]),
      (e) => isSwitchyardError(e, "MALFORMED") && e.details["index"] === 1,
    );
  });
});
