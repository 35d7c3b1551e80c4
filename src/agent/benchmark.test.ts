import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sha256Hex } from "../protocol/hash.ts";
import { SplitMix32 } from "../runtime/random.ts";
import { benchmarkDigest, benchmarkEdge, benchmarkProductDigest, runStandardBenchmark } from "./benchmark.ts";

/** The benchmark product by the literal specification: sequential float32 dot products from +0. */
function referenceDigest(): string {
  const n = benchmarkEdge;
  const fill = (seed: number) => {
    const rng = new SplitMix32(seed);
    return Float32Array.from({ length: n * n }, () => ((rng.nextUint32() >>> 16) - 32768) / 32768);
  };
  const a = fill(1);
  const b = fill(2);
  const bytes = new Uint8Array(n * n * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc = Math.fround(acc + Math.fround(a[i * n + k]! * b[k * n + j]!));
      view.setFloat32((i * n + j) * 4, acc, true);
    }
  }
  return sha256Hex(bytes);
}

describe("the standard benchmark", () => {
  test("its reference digest is the product by the literal float32 specification", () => {
    assert.equal(referenceDigest(), benchmarkDigest);
    assert.equal(benchmarkProductDigest(), benchmarkDigest);
  });

  test("reports a positive throughput in units per second over at least the minimum duration", () => {
    const result = runStandardBenchmark({ minDurationMs: 50, warmupUnits: 2 });
    assert.ok(result.ms >= 50);
    assert.ok(result.units > 0 && result.throughput >= 1);
    assert.equal(result.throughput, Math.floor((result.units * 1000) / result.ms));
  });
});
