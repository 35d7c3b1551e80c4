/**
 * Bit-reproducible float32 matrix product C = A·B.
 *
 * ## The specification (what every implementation must compute)
 *
 * For every (i, j), with `acc` a binary32 value starting at +0:
 *
 *     for k = 0, 1, …, K−1 in increasing order:  acc = fl32(acc + fl32(A[i,k] · B[k,j]))
 *     C[i,j] = acc
 *
 * where fl32 is IEEE-754 binary32 rounding to nearest, ties to even. That is the textbook
 * sequential dot product in pure float32 arithmetic, with no fused multiply-add. Starting from +0
 * (not from the first product) fixes the sign of zero: an all −0 row gives +0.
 *
 * ## Why this code computes exactly that on any IEEE machine
 *
 * - JavaScript evaluates `*` and `+` in binary64, round-to-nearest-even, and the language forbids
 *   contracting `a*b + c` into an FMA. The product of two binary32 values has at most 48
 *   significant bits, so `x * y` is exact in binary64 and `Math.fround(x * y)` is the correctly
 *   rounded binary32 product. For `acc + p` with both binary32, binary64 rounding followed by
 *   fround equals direct binary32 rounding because 53 ≥ 2·24 + 2 (double rounding is innocuous for
 *   + − × ÷ √; Figueroa 1995). So each `fround(acc + fround(x * y))` is one binary32 step.
 * - A store into a Float32Array performs the same rounding as Math.fround (ECMA-262
 *   NumericToRawBytes uses roundTiesToEven), so `c[j] = s + fround(x * y)` ends the chain with the
 *   same fl32 as an explicit fround — it is only written that way to save a call.
 * - The loops below are blocked over j and k and unrolled four deep in k, but for every fixed
 *   (i, j) the k values are still visited in increasing order: k-blocks run in increasing order,
 *   and inside a block the unrolled chain adds k, k+1, k+2, k+3 in that order into the same
 *   accumulator, which lives in C between blocks (exactly representable there: it is float32).
 *   Blocking therefore changes memory traffic only, never the sequence of roundings.
 *
 * Hence a naive triple loop that follows the specification, a Wasm f32 port, or C with `float` and
 * `-ffp-contract=off` give the same bits (matmul.test.ts checks this against the naive loop).
 *
 * ## Why it is fast anyway
 *
 * Two rows of A share each loaded row segment of B, four k-steps share each load and store of C,
 * and a 64 × 64 block of B (16 KiB) stays in L1 while all rows of A stream past it. On the bench
 * shapes this is about twice tfjs-backend-cpu's matmul (bench/matmul.ts).
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { type Matrix, matrix } from "./matrix.ts";

const fround = Math.fround;
/** Block edge in columns of B and C, and in the reduction dimension. */
const block = 64;

/** C = A·B under the fixed float32 reduction order documented above. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) {
    throw new SwitchyardError("PROGRAM_FAILED", `matmul of ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`, {
      details: { left: [a.rows, a.cols], right: [b.rows, b.cols] },
    });
  }
  const c = matrix(a.rows, b.cols);
  const m = a.rows;
  const n = b.cols;
  const k = a.cols;
  for (let j0 = 0; j0 < n; j0 += block) {
    const j1 = Math.min(n, j0 + block);
    for (let k0 = 0; k0 < k; k0 += block) {
      const k1 = Math.min(k, k0 + block);
      let i = 0;
      for (; i + 2 <= m; i += 2) accumulateRowPair(a.data, b.data, c.data, i, k, n, j0, j1, k0, k1);
      if (i < m) accumulateRow(a.data, b.data, c.data, i, k, n, j0, j1, k0, k1);
    }
  }
  return c;
}

/** Rows i and i+1 of C, columns [j0, j1), reduction steps [k0, k1) in increasing order. */
function accumulateRowPair(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  i: number,
  k: number,
  n: number,
  j0: number,
  j1: number,
  k0: number,
  k1: number,
): void {
  const c0 = i * n;
  const c1 = c0 + n;
  const a0 = i * k;
  const a1 = a0 + k;
  let p = k0;
  for (; p + 4 <= k1; p += 4) {
    const x0 = a[a0 + p]!;
    const x1 = a[a0 + p + 1]!;
    const x2 = a[a0 + p + 2]!;
    const x3 = a[a0 + p + 3]!;
    const y0 = a[a1 + p]!;
    const y1 = a[a1 + p + 1]!;
    const y2 = a[a1 + p + 2]!;
    const y3 = a[a1 + p + 3]!;
    const b0 = p * n;
    const b1 = b0 + n;
    const b2 = b1 + n;
    const b3 = b2 + n;
    for (let j = j0; j < j1; j++) {
      const v0 = b[b0 + j]!;
      const v1 = b[b1 + j]!;
      const v2 = b[b2 + j]!;
      const v3 = b[b3 + j]!;
      let s = c[c0 + j]!;
      s = fround(s + fround(x0 * v0));
      s = fround(s + fround(x1 * v1));
      s = fround(s + fround(x2 * v2));
      c[c0 + j] = s + fround(x3 * v3); // the store is the final fl32
      let t = c[c1 + j]!;
      t = fround(t + fround(y0 * v0));
      t = fround(t + fround(y1 * v1));
      t = fround(t + fround(y2 * v2));
      c[c1 + j] = t + fround(y3 * v3);
    }
  }
  for (; p < k1; p++) {
    const x = a[a0 + p]!;
    const y = a[a1 + p]!;
    const bp = p * n;
    for (let j = j0; j < j1; j++) {
      const v = b[bp + j]!;
      c[c0 + j] = c[c0 + j]! + fround(x * v);
      c[c1 + j] = c[c1 + j]! + fround(y * v);
    }
  }
}

/** The odd last row when A has an odd number of rows; same order as accumulateRowPair. */
function accumulateRow(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  i: number,
  k: number,
  n: number,
  j0: number,
  j1: number,
  k0: number,
  k1: number,
): void {
  const c0 = i * n;
  const a0 = i * k;
  for (let p = k0; p < k1; p++) {
    const x = a[a0 + p]!;
    const bp = p * n;
    for (let j = j0; j < j1; j++) c[c0 + j] = c[c0 + j]! + fround(x * b[bp + j]!);
  }
}
