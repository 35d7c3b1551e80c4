import assert from "node:assert/strict";
import { test } from "node:test";
import { sha256Hex } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { beacon } from "./beacon.ts";
import {
  captureProbabilityPpm,
  revealMatches,
  selectVerifiers,
  type VerdictReveal,
  verdictCommitment,
} from "./committee.ts";

const h = (s: string): Hex32 => sha256Hex(new TextEncoder().encode(s));
const nodes = ["a", "b", "c", "d", "e", "f", "g", "h"];

test("verifiers are distinct, never the provider, and fixed by the beacon and the candidate set", () => {
  for (let i = 0; i < 500; i++) {
    const seed = beacon(h(`commit${i}`), "verifiers/j/s");
    const chosen = selectVerifiers(seed, nodes, "c", 3, ["f"]);
    assert.equal(new Set(chosen).size, 3);
    assert.ok(!chosen.includes("c") && !chosen.includes("f"));
    assert.deepEqual(chosen, selectVerifiers(seed, [...nodes].reverse(), "c", 3, ["f"]));
  }
});

test("each eligible verifier is chosen equally often (within 4 standard errors)", () => {
  const counts = new Map<string, number>();
  const n = 7000;
  for (let i = 0; i < n; i++) {
    const [v] = selectVerifiers(beacon(h(`x${i}`), "verifiers"), nodes, "a", 1);
    counts.set(v!, (counts.get(v!) ?? 0) + 1);
  }
  const se = Math.sqrt((n * (1 / 7) * (6 / 7)) / 1);
  for (const [, c] of counts) assert.ok(Math.abs(c - n / 7) < 4 * se, `count ${c}`);
  assert.equal(counts.size, 7);
});

test("error: too few eligible candidates is ILLEGAL_TRANSITION", () => {
  assert.throws(() => selectVerifiers(h("s"), ["p", "q"], "p", 2), { code: "ILLEGAL_TRANSITION" });
});

test("committee capture is C(c, v) / C(N, v)", () => {
  assert.equal(captureProbabilityPpm(10, 1, 1), 100_000);
  assert.equal(captureProbabilityPpm(10, 2, 2), 22_223); // 2/90
  assert.equal(captureProbabilityPpm(10, 1, 2), 0);
});

test("a revealed verdict opens its commitment; any changed part does not", () => {
  const reveal: VerdictReveal = {
    verdict: "match",
    salt: h("salt"),
    verifier: "v",
    stage: "j/s",
    computed: h("c"),
  };
  const c = verdictCommitment(reveal);
  assert.ok(revealMatches(c, reveal));
  assert.ok(!revealMatches(c, { ...reveal, verdict: "mismatch" }));
  assert.ok(!revealMatches(c, { ...reveal, salt: h("other") }));
  assert.ok(!revealMatches(c, { ...reveal, verifier: "w" }));
  assert.ok(!revealMatches(c, { ...reveal, stage: "j/t" }));
  assert.ok(!revealMatches(c, { ...reveal, computed: h("d") }));
});
