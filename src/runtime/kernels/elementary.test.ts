import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { sha256Hex } from "../../protocol/hash.ts";
import { cosf, expf, logf, sinf, sqrtf, tanhf, trigAccurateBound } from "./elementary.ts";

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** Position of a float32 on the number line in ulps (monotonic integer order). */
function ordinal(x: number): number {
  f32[0] = x;
  const bits = i32[0]!;
  return bits < 0 ? -(bits & 0x7fffffff) : bits;
}

function ulpDistance(a: number, b: number): number {
  return Math.abs(ordinal(a) - ordinal(b));
}

/** `count` float32 points evenly spread over [lo, hi]. */
function grid(lo: number, hi: number, count: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

/**
 * Largest ulp distance from the reference rounded to float32. The reference is the engine's binary64
 * function, accurate to well under a float32 ulp, so rounding it gives the correctly rounded value
 * except in vanishingly rare near-ties.
 */
function maxUlpError(fn: (x: number) => number, reference: (x: number) => number, xs: Float32Array): number {
  let worst = 0;
  for (const x of xs) {
    const want = Math.fround(reference(x));
    if (Number.isFinite(want)) worst = Math.max(worst, ulpDistance(fn(x), want));
  }
  return worst;
}

function maxAbsError(fn: (x: number) => number, reference: (x: number) => number, xs: Float32Array): number {
  let worst = 0;
  for (const x of xs) worst = Math.max(worst, Math.abs(fn(x) - reference(x)));
  return worst;
}

/** SHA-256 of the float32 bits of fn over xs: pins every output bit. */
function digest(fn: (x: number) => number, xs: Float32Array): string {
  const out = xs.map(fn);
  return sha256Hex(new Uint8Array(out.buffer));
}

describe("deterministic elementary functions", () => {
  // Measured on 2,000,000-point sweeps: max error 1 ulp for exp, log and tanh, and for sin and cos
  // on |x| ≤ 10; absolute error ≤ 7.7e-8 for sin and cos on |x| ≤ 8192. The tolerances below are
  // exactly those figures.
  it("expf is within 1 ulp of e^x across the float32 range", () => {
    assert.ok(maxUlpError(expf, Math.exp, grid(-103, 88.72, 400_001)) <= 1);
    assert.ok(maxUlpError(expf, Math.exp, grid(-1, 1, 100_001)) <= 1);
  });

  it("logf is within 1 ulp of ln x from subnormals to the largest float32", () => {
    assert.ok(maxUlpError(logf, Math.log, grid(0.5, 2, 100_001)) <= 1);
    assert.ok(maxUlpError(logf, Math.log, grid(1e-30, 10, 100_001)) <= 1);
    assert.ok(maxUlpError(logf, Math.log, grid(1, 3e38, 100_001)) <= 1);
    const subnormals = Float32Array.from({ length: 1000 }, (_, i) => (i + 1) * 1.401298464324817e-45 * 7919);
    assert.ok(maxUlpError(logf, Math.log, subnormals) <= 1);
  });

  it("sinf and cosf are within 1 ulp on |x| ≤ 10 and 7.7e-8 absolute up to the accurate bound", () => {
    assert.ok(maxUlpError(sinf, Math.sin, grid(-10, 10, 200_001)) <= 1);
    assert.ok(maxUlpError(cosf, Math.cos, grid(-10, 10, 200_001)) <= 1);
    const wide = grid(-trigAccurateBound, trigAccurateBound, 400_001);
    assert.ok(maxAbsError(sinf, Math.sin, wide) <= 7.7e-8);
    assert.ok(maxAbsError(cosf, Math.cos, wide) <= 7.7e-8);
  });

  it("tanhf is within 1 ulp of tanh x", () => {
    assert.ok(maxUlpError(tanhf, Math.tanh, grid(-10, 10, 200_001)) <= 1);
    assert.ok(maxUlpError(tanhf, Math.tanh, grid(-1, 1, 100_001)) <= 1);
  });

  it("property: sqrtf is the correctly rounded float32 square root", () => {
    fc.assert(
      fc.property(fc.float({ min: 0, noNaN: true, noDefaultInfinity: true }), (x) => {
        assert.equal(sqrtf(x), Math.fround(Math.sqrt(x)));
      }),
      { numRuns: 20_000 },
    );
  });

  it("handles special values like the IEEE functions", () => {
    assert.equal(expf(0), 1);
    assert.equal(expf(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
    assert.equal(expf(Number.NEGATIVE_INFINITY), 0);
    assert.equal(expf(89), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(expf(Number.NaN)));
    assert.equal(logf(1), 0);
    assert.equal(logf(0), Number.NEGATIVE_INFINITY);
    assert.ok(Number.isNaN(logf(-1)));
    assert.equal(logf(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
    assert.ok(Object.is(sinf(-0), -0));
    assert.equal(cosf(0), 1);
    assert.ok(Number.isNaN(sinf(Number.POSITIVE_INFINITY)));
    assert.equal(tanhf(100), 1);
    assert.equal(tanhf(-100), -1);
    assert.ok(Number.isNaN(sqrtf(-1)));
    assert.ok(Object.is(sqrtf(-0), -0));
  });

  it("property: results are float32 values and repeat bit for bit", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        for (const fn of [expf, logf, sinf, cosf, tanhf, sqrtf]) {
          const y = fn(x);
          assert.ok(Object.is(y, Math.fround(y)));
          assert.ok(Object.is(fn(x), y));
        }
      }),
      { numRuns: 5_000 },
    );
  });

  // Every bit of every output over fixed grids. These digests are part of the protocol: a change
  // means old checkpoints no longer verify, and on another engine or CPU a mismatch means that
  // machine would compute different bits.
  it("pins the output bits of every function", () => {
    const xs = grid(-50, 50, 10_001);
    const positive = grid(1e-6, 1e6, 10_001);
    assert.deepEqual(
      {
        exp: digest(expf, xs),
        log: digest(logf, positive),
        sin: digest(sinf, xs),
        cos: digest(cosf, xs),
        tanh: digest(tanhf, xs),
        sqrt: digest(sqrtf, positive),
      },
      GOLDEN,
    );
  });
});

const GOLDEN = {
  exp: "fa151f794334f23895a3d4e34dbad44e5d7672333066e015cfc726925e9bee7a",
  log: "2c0dbe0bdb60089be75f91baceadb1976f9d325cad446749622cc250c4bcbe06",
  sin: "c6270e648c1b4cc2beb9ef90a4f7ccf7200fbb6bf83652fca9b99a4205bc2109",
  cos: "27eca853b9e0860b765c9351fe591c3e44765647a6716a0d5eac38e6b1520777",
  tanh: "1aefafd0456f8faa2923f1f47720456172c0c6b2d6dd262b1fc4a9138f7349b3",
  sqrt: "597a3f12be91188711b2a7ef36d048569ae0f57bf18844a9a6e5821f8ed4d6ab",
};
