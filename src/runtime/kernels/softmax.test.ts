import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { matrix } from "./matrix.ts";
import { adamStart, adamUpdate, sgdUpdate } from "./optimizers.ts";
import { softmaxCrossEntropy } from "./softmax.ts";

describe("softmax cross-entropy", () => {
  it("property: probabilities sum to 1, loss is −log p(label), gradient rows sum to 0", () => {
    const logit = fc.float({ min: -30, max: 30, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(logit, logit, logit), { minLength: 1, maxLength: 20 }),
        fc.nat(2),
        (rows, label) => {
          const z = matrix(rows.length, 3, Float32Array.from(rows.flat()));
          const labels = new Uint8Array(rows.length).fill(label);
          const { loss, probabilities, gradient } = softmaxCrossEntropy(z, labels);
          let expectedLoss = 0;
          for (let i = 0; i < rows.length; i++) {
            const p = probabilities.data.subarray(i * 3, i * 3 + 3);
            assert.ok(Math.abs(p[0]! + p[1]! + p[2]! - 1) < 1e-6);
            const g = gradient.data.subarray(i * 3, i * 3 + 3);
            assert.ok(Math.abs(g[0]! + g[1]! + g[2]!) < 1e-6);
            const row = rows[i]!;
            const max = Math.max(...row);
            const logSum = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
            expectedLoss += logSum - (row[label]! - max);
          }
          expectedLoss /= rows.length;
          assert.ok(Math.abs(loss - expectedLoss) <= 1e-5 * Math.max(1, expectedLoss));
        },
      ),
    );
  });

  it("stays finite on logits that would overflow a naive exp", () => {
    const { loss } = softmaxCrossEntropy(matrix(1, 2, Float32Array.of(1000, -1000)), Uint8Array.of(1));
    assert.equal(loss, 2000);
  });
});

describe("optimizers", () => {
  it("SGD moves each weight by −lr·g", () => {
    const [w] = sgdUpdate([Float32Array.of(1, 2)], [Float32Array.of(0.5, -1)], 0.1);
    assert.deepEqual([...w!], [Math.fround(1 - Math.fround(0.05)), Math.fround(2 + Math.fround(0.1))]);
  });

  it("Adam's first update moves each weight by about lr against the gradient's sign", () => {
    const params = [Float32Array.of(0, 0, 0)];
    const settings = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
    const first = adamUpdate(params, [Float32Array.of(3, -0.002, 40)], adamStart(params), settings);
    for (const [i, sign] of [-1, 1, -1].entries()) {
      assert.ok(Math.abs(first.params[0]![i]! - sign * 0.01) < 1e-4);
    }
    assert.equal(first.moments.beta1Power, Math.fround(0.9));
    assert.deepEqual([...params[0]!], [0, 0, 0], "inputs are left untouched");
  });
});
