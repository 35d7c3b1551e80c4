import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  applyLevelPhase,
  applyMixer,
  levelExpectation,
  pairwiseSum,
  probabilities,
  uniformSuperposition,
} from "./statevector.ts";

function norm(p: Float32Array): number {
  return p.reduce((s, v) => s + v, 0);
}

describe("state-vector simulator", () => {
  it("starts in the uniform superposition", () => {
    const p = probabilities(uniformSuperposition(4));
    assert.ok(p.every((v) => Math.abs(v - 1 / 16) < 1e-7));
  });

  it("property: phases and mixers keep the state normalised", () => {
    fc.assert(
      fc.property(
        fc.float({ min: -4, max: 4, noNaN: true }),
        fc.float({ min: -4, max: 4, noNaN: true }),
        (g, b) => {
          let s = uniformSuperposition(5);
          const level = Uint32Array.from({ length: 32 }, (_, z) => z % 7);
          s = applyLevelPhase(s, level, 7, g);
          for (let q = 0; q < 5; q++) s = applyMixer(s, q, b);
          assert.ok(Math.abs(norm(probabilities(s)) - 1) < 1e-5);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("a mixer of β = π/2 on one qubit swaps |0⟩ and |1⟩ (up to phase)", () => {
    const zero = { qubits: 1, re: Float32Array.of(1, 0), im: Float32Array.of(0, 0) };
    const p = probabilities(applyMixer(zero, 0, Math.PI / 2));
    assert.ok(p[0]! < 1e-12 && Math.abs(p[1]! - 1) < 1e-6);
  });

  it("the expectation of a diagonal observable is the probability-weighted mean", () => {
    const s = uniformSuperposition(3);
    const level = Uint32Array.of(0, 1, 2, 3, 4, 5, 6, 7);
    assert.ok(Math.abs(levelExpectation(s, level) - 3.5) < 1e-6);
  });

  it("pairwiseSum follows its fixed tree, not left-to-right order", () => {
    // Left to right, 2^24 + 1 rounds back to 2^24 (a tie, to even) for every one of the 15 ones.
    // The tree adds the first 8 values that way but sums the last 8 ones exactly first.
    const values = new Float32Array(16).fill(1);
    values[0] = 2 ** 24;
    const leftToRight = values.reduce((s, v) => Math.fround(s + v), 0);
    assert.equal(leftToRight, 2 ** 24);
    assert.equal(pairwiseSum(values), 2 ** 24 + 8);
  });
});
