/**
 * The standard benchmark a provider runs before it registers (DESIGN.md §4: measured throughput,
 * so fake hardware cannot pass). The workload is the reproducible float32 matmul the built-in
 * programs are made of, on fixed inputs: one **benchmark unit** is one 64 × 64 × 64 product
 * (262,144 multiply-adds), so throughput is units per second. About 4,000–5,000 on one core of
 * the development machine (2.5 GFLOP/s, runtime.md).
 *
 * The product of the fixed inputs has a known digest. A machine that computes other bits has no
 * business running verified work, so the benchmark refuses to report a throughput for it.
 */
import { SwitchyardError } from "../protocol/errors.ts";
import { sha256Hex } from "../protocol/hash.ts";
import { matmul } from "../runtime/kernels/matmul.ts";
import { type Matrix, matrix } from "../runtime/kernels/matrix.ts";
import { SplitMix32 } from "../runtime/random.ts";

/** Edge of the benchmark matrices: one block of the blocked kernel. */
export const benchmarkEdge = 64;
/** Multiply-adds in one benchmark unit. */
export const multiplyAddsPerUnit = benchmarkEdge ** 3;
/** SHA-256 of the little-endian float32 bytes of A·B for the fixed inputs (see benchmark.test.ts). */
export const benchmarkDigest = "54f4bf6f37e40903c4b32bc585eee88ef6eb9dde60e0995268f51535ce5825b0";

export interface BenchmarkOptions {
  /** Run for at least this long (default 300 ms); longer gives a steadier figure. */
  readonly minDurationMs?: number;
  /** Units run before timing starts, so the JIT has compiled the kernel (default 20). */
  readonly warmupUnits?: number;
}

export interface BenchmarkResult {
  /** Benchmark units per second, rounded down, at least 1: the `throughput` of registerNode. */
  readonly throughput: number;
  readonly units: number;
  readonly ms: number;
  /** Digest of the product: equals `benchmarkDigest` on every correct machine. */
  readonly digest: string;
}

function fixedMatrix(seed: number): Matrix {
  const rng = new SplitMix32(seed);
  const m = matrix(benchmarkEdge, benchmarkEdge);
  // Values in [-1, 1) with 2^-16 resolution: exact in float32, and products that round.
  for (let i = 0; i < m.data.length; i++) m.data[i] = ((rng.nextUint32() >>> 16) - 32768) / 32768;
  return m;
}

/** The digest of the benchmark product on this machine. */
export function benchmarkProductDigest(): string {
  const product = matmul(fixedMatrix(1), fixedMatrix(2));
  // Little-endian whatever the host, as every encoding in src/runtime is.
  const bytes = new Uint8Array(product.data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < product.data.length; i++) view.setFloat32(i * 4, product.data[i]!, true);
  return sha256Hex(bytes);
}

/**
 * Runs the standard benchmark on the calling thread. PROGRAM_FAILED if this machine's product
 * differs from the reference bits.
 *
 * ```ts
 * const { throughput } = runStandardBenchmark();
 * await signAndSubmit(client, { identity, type: "registerNode", body: { ...node, throughput } });
 * ```
 */
export function runStandardBenchmark(options: BenchmarkOptions = {}): BenchmarkResult {
  const minDurationMs = options.minDurationMs ?? 300;
  const a = fixedMatrix(1);
  const b = fixedMatrix(2);
  const digest = benchmarkProductDigest();
  if (digest !== benchmarkDigest) {
    throw new SwitchyardError(
      "PROGRAM_FAILED",
      `this machine computes the benchmark product with other bits (digest ${digest.slice(0, 16)}…); it cannot run verified work`,
      { details: { digest, expected: benchmarkDigest } },
    );
  }
  for (let i = 0; i < (options.warmupUnits ?? 20); i++) matmul(a, b);
  let units = 0;
  const t0 = performance.now();
  let elapsed = 0;
  // Check the clock every 8 units: a unit takes ~0.2 ms, a clock read is not free.
  while (elapsed < minDurationMs) {
    for (let i = 0; i < 8; i++) matmul(a, b);
    units += 8;
    elapsed = performance.now() - t0;
  }
  return { throughput: Math.max(1, Math.floor((units * 1000) / elapsed)), units, ms: elapsed, digest };
}
