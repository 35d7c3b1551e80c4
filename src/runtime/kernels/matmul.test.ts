import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isSwitchyardError } from "../../protocol/errors.ts";
import { sha256Hex } from "../../protocol/hash.ts";
import { SplitMix32 } from "../random.ts";
import { matmul } from "./matmul.ts";
import { type Matrix, matrix, transpose } from "./matrix.ts";

/** The specification in matmul.ts, written as literally as possible. */
function specification(a: Matrix, b: Matrix): Matrix {
  const c = matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let acc = 0;
      for (let k = 0; k < a.cols; k++) {
        acc = Math.fround(acc + Math.fround(a.data[i * a.cols + k]! * b.data[k * b.cols + j]!));
      }
      c.data[i * b.cols + j] = acc;
    }
  }
  return c;
}

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const rng = new SplitMix32(seed);
  return matrix(
    rows,
    cols,
    Float32Array.from({ length: rows * cols }, () => rng.nextUnit() * 2 - 1),
  );
}

function sameBits(x: Float32Array, y: Float32Array): boolean {
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
}

describe("reproducible matmul", () => {
  it("property: equals the sequential float32 specification bit for bit, across block edges", () => {
    // Shapes up to 150 cross the 64-wide blocks and the 4-deep unrolling at every remainder.
    const dim = fc.integer({ min: 1, max: 150 });
    fc.assert(
      fc.property(dim, dim, dim, fc.nat(), (m, k, n, seed) => {
        const a = randomMatrix(m, k, seed);
        const b = randomMatrix(k, n, seed + 1);
        assert.ok(sameBits(matmul(a, b).data, specification(a, b).data));
      }),
      { numRuns: 60 },
    );
  });

  it("keeps the specification on awkward values: zeros of both signs, huge, tiny, NaN", () => {
    const values = [0, -0, 1e30, -1e30, 1e-40, 3, Number.NaN, Number.POSITIVE_INFINITY, 0.1];
    const rng = new SplitMix32(5);
    const pick = () => values[rng.nextBelow(values.length)]!;
    const a = matrix(9, 70, Float32Array.from({ length: 9 * 70 }, pick));
    const b = matrix(70, 11, Float32Array.from({ length: 70 * 11 }, pick));
    assert.ok(sameBits(matmul(a, b).data, specification(a, b).data));
  });

  it("starts every dot product at +0, so a row of −0 products gives +0", () => {
    const c = matmul(matrix(1, 2, Float32Array.of(-0, -0)), matrix(2, 1, Float32Array.of(1, 1)));
    assert.ok(Object.is(c.data[0], 0));
  });

  it("pins the bits of a 97 × 131 × 83 product", () => {
    const c = matmul(randomMatrix(97, 131, 1), randomMatrix(131, 83, 2));
    assert.equal(
      sha256Hex(new Uint8Array(c.data.buffer)),
      "442fe048076f61fb8e61b2b03496efc30c8c75460681248464980b39e021e7cf",
    );
  });

  it("transposes without changing any value", () => {
    const a = randomMatrix(5, 7, 3);
    const t = transpose(a);
    assert.equal(t.rows, 7);
    assert.equal(t.data[2 * 5 + 4], a.data[4 * 7 + 2]);
    assert.ok(sameBits(transpose(t).data, a.data));
  });

  it("error: inner dimensions that differ are PROGRAM_FAILED", () => {
    assert.throws(
      () => matmul(matrix(2, 3), matrix(4, 2)),
      (e) => isSwitchyardError(e, "PROGRAM_FAILED"),
    );
  });
});
