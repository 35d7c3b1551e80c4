/**
 * Matrix-product throughput of the reproducible float32 kernel (src/runtime/kernels/matmul.ts)
 * against two baselines measured in the same run: a straightforward triple loop, and
 * @tensorflow/tfjs-backend-cpu's matMul, the usual pure-JS tensor library. Lines:
 *
 *   {bench: "core", metric: "matmul_gflops", value, unit: "GFLOP/s", impl, shape}
 *   {bench: "core", metric: "matmul_speedup", value, unit: "ratio", impl: "reproducible", baseline, shape}
 *
 * with impl ∈ {reproducible, plain-js, tfjs-cpu} and shape "M×K×N". A product counts 2·M·K·N
 * floating-point operations. Each figure is the median of several timed runs after a warm-up, so one
 * descheduled run on a shared machine does not move it. The suite also checks that two runs of
 * the reproducible kernel give identical bits, and fails if not.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { SwitchyardError } from "../src/protocol/errors.ts";
import { matmul } from "../src/runtime/kernels/matmul.ts";
import { type Matrix, matrix } from "../src/runtime/kernels/matrix.ts";
import { SplitMix32 } from "../src/runtime/random.ts";
import type { BenchSuite } from "./lib.ts";

const shapes = [
  [256, 256, 256],
  [512, 512, 512],
] as const;

/** Timed runs per figure; the median is reported. */
const runs = 5;

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const rng = new SplitMix32(seed);
  return matrix(
    rows,
    cols,
    Float32Array.from({ length: rows * cols }, () => rng.nextUnit() * 2 - 1),
  );
}

/** The triple loop anyone would write first: i-j-k, a binary64 accumulator, one store per element. */
function plainMatmul(a: Matrix, b: Matrix): Matrix {
  const c = matrix(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let sum = 0;
      for (let k = 0; k < a.cols; k++) sum += a.data[i * a.cols + k]! * b.data[k * b.cols + j]!;
      c.data[i * b.cols + j] = sum;
    }
  }
  return c;
}

/** Median seconds of `fn` over `runs` timed runs after one warm-up. */
function medianSeconds(fn: () => void): number {
  fn();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(runs / 2)]!;
}

function sameBits(x: Float32Array, y: Float32Array): boolean {
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
}

export const matmulSuite: BenchSuite = async (log) => {
  // PROD skips tfjs's per-op NaN checks and its "install tfjs-node" banner: its fastest CPU path.
  tf.env().set("PROD", true);
  await tf.setBackend("cpu");
  for (const [m, k, n] of shapes) {
    const shape = `${m}×${k}×${n}`;
    const a = randomMatrix(m, k, 1);
    const b = randomMatrix(k, n, 2);
    const gflops = (seconds: number) => (2 * m * k * n) / seconds / 1e9;

    const first = matmul(a, b);
    if (!sameBits(first.data, matmul(a, b).data)) {
      throw new SwitchyardError("INVARIANT_VIOLATED", `reproducible matmul gave different bits on ${shape}`);
    }

    const reproducible = gflops(medianSeconds(() => matmul(a, b)));
    const plain = gflops(medianSeconds(() => plainMatmul(a, b)));
    const ta = tf.tensor2d(a.data, [m, k]);
    const tb = tf.tensor2d(b.data, [k, n]);
    const tfjs = gflops(
      medianSeconds(() => {
        const product = tf.matMul(ta, tb);
        product.dataSync();
        product.dispose();
      }),
    );
    ta.dispose();
    tb.dispose();

    const line = { bench: "core", metric: "matmul_gflops", unit: "GFLOP/s", shape };
    log({ ...line, value: reproducible, impl: "reproducible" });
    log({ ...line, value: plain, impl: "plain-js" });
    log({ ...line, value: tfjs, impl: "tfjs-cpu" });
    for (const [baseline, value] of [
      ["plain-js", plain],
      ["tfjs-cpu", tfjs],
    ] as const) {
      log({
        bench: "core",
        metric: "matmul_speedup",
        value: reproducible / value,
        unit: "ratio",
        impl: "reproducible",
        baseline,
        shape,
      });
    }
  }
};
