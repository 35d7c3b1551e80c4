import assert from "node:assert/strict";
import { test } from "node:test";
import { sha256Hex } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { beacon, chancePpm, uniformBelow } from "./beacon.ts";

const h = (s: string): Hex32 => sha256Hex(new TextEncoder().encode(s));

test("the beacon depends on both the previous hash and the domain, and on nothing else", () => {
  assert.equal(beacon(h("a"), "spot/j/s"), beacon(h("a"), "spot/j/s"));
  assert.notEqual(beacon(h("a"), "spot/j/s"), beacon(h("b"), "spot/j/s"));
  assert.notEqual(beacon(h("a"), "spot/j/s"), beacon(h("a"), "spot/j/t"));
});

test("uniformBelow stays in range and is uniform (chi-square over 16 cells, 8,000 draws)", () => {
  const counts = new Array<number>(16).fill(0);
  for (let i = 0; i < 8000; i++) {
    const x = uniformBelow(beacon(h("seed"), `d${i}`), 16n);
    assert.ok(x >= 0n && x < 16n);
    counts[Number(x)]!++;
  }
  const expected = 500;
  const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  // 15 degrees of freedom: P(chi2 > 37.7) = 0.001.
  assert.ok(chi2 < 37.7, `chi2 = ${chi2}`);
});

test("chancePpm hits its rate within 4 binomial standard errors", () => {
  const n = 20_000;
  let hits = 0;
  for (let i = 0; i < n; i++) if (chancePpm(beacon(h("c"), `${i}`), 300_000)) hits++;
  const se = Math.sqrt((0.3 * 0.7) / n);
  assert.ok(Math.abs(hits / n - 0.3) < 4 * se, `rate ${hits / n}`);
  assert.equal(chancePpm(h("x"), 0), false);
  assert.equal(chancePpm(h("x"), 1_000_000), true);
});

test("error: n = 0 and out-of-range probabilities are MALFORMED", () => {
  assert.throws(() => uniformBelow(h("x"), 0n), { code: "MALFORMED" });
  assert.throws(() => chancePpm(h("x"), 1_000_001), { code: "MALFORMED" });
  assert.throws(() => chancePpm(h("x"), 0.5), { code: "MALFORMED" });
});
