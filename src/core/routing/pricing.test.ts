import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { effectiveCost, transferMs } from "./effective-cost.ts";
import { nextPriceIndex, updatePriceIndex } from "./price-index.ts";

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
});
