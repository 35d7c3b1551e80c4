import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { effectiveCost, transferMs } from "./effective-cost.ts";
import { nextPriceIndex, nextPriceIndexWithinAsks, updatePriceIndex } from "./price-index.ts";

describe("effective cost", () => {
  const base = {
    pricePerUnitSecond: 500,
    units: 2,
    durationMs: 60_000,
    valueOfTimePerSecond: 100,
    queueMs: 1_000,
    transferMs: 500,
    loopMs: 300,
    failureBps: 200,
    verificationBps: 1_000,
  };
  it("returns every term separately and a total that is their sum", () => {
    const c = effectiveCost(base);
    assert.deepEqual(c, {
      compute: 60_000,
      time: 6_000,
      delay: 180,
      risk: 1_320,
      verification: 6_000,
      total: 73_500,
    });
  });
  it("transfer is one RTT plus bytes over bandwidth; no bytes, no transfer", () => {
    assert.equal(transferMs(10_000_000, 40, 100_000_000), 140);
    assert.equal(transferMs(0, 40, 1), 0);
  });
  it("error: a cost beyond the safe-integer range is refused", () => {
    assert.throws(() => effectiveCost({ ...base, pricePerUnitSecond: 2 ** 52 }), RangeError);
  });
});

describe("price index (EIP-1559 rule)", () => {
  it("moves at most 12.5 % per epoch: up when full, down when idle, still at target", () => {
    assert.equal(nextPriceIndex(800n, 10_000), 900n);
    assert.equal(nextPriceIndex(800n, 0), 700n);
    assert.equal(nextPriceIndex(800n, 5_000), 800n);
    assert.equal(nextPriceIndex(1n, 0), 1n);
  });
  it("updates only classes and regions with a reading, and publishes them in key order", () => {
    const out = updatePriceIndex(
      [
        { resourceClass: "gpu:H100", region: "Frankfurt", index: 1_000n },
        { resourceClass: "cpu", region: "Tokyo", index: 100n },
      ],
      new Map([["gpu:H100|Frankfurt", 10_000]]),
    );
    assert.deepEqual(out, [
      { resourceClass: "cpu", region: "Tokyo", index: 100n },
      { resourceClass: "gpu:H100", region: "Frankfurt", index: 1_125n },
    ]);
  });
  it("within the asks: stops at the highest ask when full and at the lowest when idle", () => {
    assert.equal(nextPriceIndexWithinAsks(900n, 10_000, 500n, 950n), 950n);
    assert.equal(nextPriceIndexWithinAsks(600n, 0, 550n, 950n), 550n);
    assert.equal(nextPriceIndexWithinAsks(800n, 10_000, 500n, 1_000n), 900n);
    // Already beyond a bound (the book moved): it stays rather than move further out or jump back.
    assert.equal(nextPriceIndexWithinAsks(2_000n, 10_000, 500n, 1_000n), 2_000n);
    assert.equal(nextPriceIndexWithinAsks(100n, 0, 500n, 1_000n), 100n);
    assert.equal(nextPriceIndexWithinAsks(2_000n, 0, 500n, 1_000n), 1_750n);
  });
  it("property: one epoch moves at most 1/8, in the direction of utilization, and not out of the asks", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 24n }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.bigInt({ min: 1n, max: 10n ** 24n }),
        fc.bigInt({ min: 0n, max: 10n ** 24n }),
        (index, utilizationBps, lowestAsk, spread) => {
          const highestAsk = lowestAsk + spread;
          const next = nextPriceIndexWithinAsks(index, utilizationBps, lowestAsk, highestAsk);
          const moved = next > index ? next - index : index - next;
          assert.ok(moved <= index / 8n, `${index} → ${next} moved more than 1/8`);
          assert.ok(next >= 1n);
          if (utilizationBps > 5_000) {
            assert.ok(next >= index && next <= (index > highestAsk ? index : highestAsk));
          } else if (utilizationBps < 5_000) {
            assert.ok(next <= index && next >= (index < lowestAsk ? index : lowestAsk));
          } else {
            assert.equal(next, index);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
