import assert from "node:assert/strict";
import { test } from "node:test";
import { sha256Hex } from "../../protocol/hash.ts";
import { riskPpm } from "../reputation/reputation.ts";
import { beacon } from "./beacon.ts";
import { decideSpotCheck, type SpotRateInput, spotCheckRate } from "./policy.ts";

const stage: SpotRateInput = {
  paymentMicro: 1_000_000n,
  stakeMicro: 10_000_000n,
  slashBps: 5_000,
  cheatGainMicro: 800_000n,
  verifierFeeMicro: 31_250n,
  riskPpm: 1_000_000,
};
const noFloor = { floorPpm: 1, marginPpm: 0, newcomerPpm: 1 };

test("break-even is C / (P + S): at that rate a cheat's expected gain is zero, above it negative", () => {
  const r = spotCheckRate(stage, noFloor);
  assert.equal(r.slashMicro, 5_000_000n);
  assert.equal(r.breakEvenPpm, 133_334); // 0.8 / 6, rounded up
  for (const f of [1, 0.5, 1 / 16]) {
    // Δ(f) = f·C − p·f·(P + S) in micro-credits, at p = break-even (rounded up): ≤ 0.
    const delta = f * 800_000 - (r.breakEvenPpm / 1e6) * f * 6_000_000;
    assert.ok(delta <= 0, `f = ${f}: ${delta}`);
    const below = f * 800_000 - ((r.breakEvenPpm - 1_000) / 1e6) * f * 6_000_000;
    assert.ok(below > 0, "a rate below break-even must leave cheating profitable");
  }
});

test("the margin raises the rate, the floor bounds it below, and it never exceeds 1,000,000", () => {
  const withMargin = spotCheckRate(stage, { floorPpm: 1, marginPpm: 250_000, newcomerPpm: 1 });
  assert.equal(withMargin.ppm, 166_668);
  const floored = spotCheckRate(stage, { floorPpm: 500_000, marginPpm: 250_000, newcomerPpm: 1 });
  assert.equal(floored.ppm, 500_000);
  const unstaked = spotCheckRate({ ...stage, stakeMicro: 0n }, noFloor);
  assert.equal(unstaked.ppm, 800_000);
  assert.equal(unstaked.stakeTooSmall, false);
  const poor = spotCheckRate({ ...stage, stakeMicro: 0n, cheatGainMicro: 1_000_000n }, noFloor);
  assert.equal(poor.ppm, 1_000_000);
  assert.equal(
    poor.stakeTooSmall,
    true,
    "C ≥ P + S: no spot rate deters, the stage needs stake or replication",
  );
});

test("reputation lowers the rate toward the base, never below it and never to 0", () => {
  let last = Number.POSITIVE_INFINITY;
  for (const successes of [0, 1, 10, 100, 10_000, 1_000_000]) {
    const r = spotCheckRate({ ...stage, riskPpm: riskPpm({ successes, failures: 0, timeouts: 0 }) });
    assert.ok(r.ppm <= last && r.ppm >= r.basePpm && r.ppm > 0);
    last = r.ppm;
  }
  assert.equal(spotCheckRate(stage).ppm, 1_000_000, "a newcomer is always checked");
  assert.equal(last, 750_001);
});

test("the expected verifier fee is p × fee", () => {
  assert.equal(spotCheckRate({ ...stage, riskPpm: 0 }).expectedVerifierFeeMicro, 23_438n);
});

test("error: negative money, bad ppm and a zero floor are MALFORMED", () => {
  assert.throws(() => spotCheckRate({ ...stage, paymentMicro: -1n }), { code: "MALFORMED" });
  assert.throws(() => spotCheckRate({ ...stage, riskPpm: 2_000_000 }), { code: "MALFORMED" });
  assert.throws(() => spotCheckRate(stage, { ...noFloor, floorPpm: 0 }), { code: "MALFORMED" });
  assert.throws(() => decideSpotCheck(sha256Hex(new Uint8Array()), 1, 0), { code: "MALFORMED" });
});

test("the segment is uniform over the stage's segments and fixed by the beacon", () => {
  const counts = new Array<number>(8).fill(0);
  for (let i = 0; i < 4000; i++) {
    const seed = beacon(sha256Hex(new Uint8Array([i & 255, i >> 8])), "spot/j/s");
    const d = decideSpotCheck(seed, 500_000, 8);
    assert.deepEqual(d, decideSpotCheck(seed, 500_000, 8));
    counts[d.segment]!++;
  }
  const chi2 = counts.reduce((s, c) => s + (c - 500) ** 2 / 500, 0);
  assert.ok(chi2 < 24.3, `chi2 = ${chi2}`); // 7 d.o.f., P = 0.001
});
