/**
 * A float32 state-vector simulator for the gates QAOA needs: a diagonal phase e^{-iθ(z)} and the
 * single-qubit mixer e^{-iβX}. Amplitude z of an n-qubit state is (re[z], im[z]); qubit q is bit q
 * of z. Every product and sum is one binary32 operation (explicit fround, or a Float32Array store,
 * which rounds the same way; see matmul.ts), each output amplitude depends only on its own inputs,
 * and the one reduction (expectation) uses a fixed pairwise tree, so results are identical on every
 * IEEE machine. cos and sin come from the deterministic cosf/sinf.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { cosf, sinf, sqrtf } from "./elementary.ts";

const fround = Math.fround;

export interface StateVector {
  readonly qubits: number;
  readonly re: Float32Array;
  readonly im: Float32Array;
}

/** |+⟩^n: every amplitude 1/√(2^n), the usual QAOA starting state. */
export function uniformSuperposition(qubits: number): StateVector {
  const size = 1 << qubits;
  const amplitude = fround(1 / sqrtf(size));
  return { qubits, re: new Float32Array(size).fill(amplitude), im: new Float32Array(size) };
}

/**
 * Multiplies amplitude z by e^{-iθ_v} with v = level[z]: a diagonal unitary whose phase depends on
 * z only through an integer level (for MaxCut, the cut value), so cos and sin are computed once per
 * level, not once per amplitude. `angle` gives θ_v = fl32(angle · v).
 */
export function applyLevelPhase(
  state: StateVector,
  level: Uint32Array,
  levels: number,
  angle: number,
): StateVector {
  const a = fround(angle);
  const cos = new Float32Array(levels);
  const sin = new Float32Array(levels);
  for (let v = 0; v < levels; v++) {
    const theta = fround(a * v);
    cos[v] = cosf(theta);
    sin[v] = sinf(theta);
  }
  const { re, im } = state;
  const outRe = new Float32Array(re.length);
  const outIm = new Float32Array(re.length);
  for (let z = 0; z < re.length; z++) {
    const v = level[z]!;
    if (v >= levels) throw new SwitchyardError("PROGRAM_FAILED", `phase level ${v} outside 0..${levels - 1}`);
    const c = cos[v]!;
    const s = sin[v]!;
    const x = re[z]!;
    const y = im[z]!;
    // (x + iy)(c − is) = (xc + ys) + i(yc − xs)
    outRe[z] = fround(x * c) + fround(y * s);
    outIm[z] = fround(y * c) - fround(x * s);
  }
  return { qubits: state.qubits, re: outRe, im: outIm };
}

/** e^{-iβX} on `qubit`: [[cos β, −i sin β], [−i sin β, cos β]] on each amplitude pair. */
export function applyMixer(state: StateVector, qubit: number, beta: number): StateVector {
  if (!Number.isInteger(qubit) || qubit < 0 || qubit >= state.qubits) {
    throw new SwitchyardError("PROGRAM_FAILED", `qubit ${qubit} outside 0..${state.qubits - 1}`);
  }
  const c = cosf(beta);
  const s = sinf(beta);
  const { re, im } = state;
  const outRe = new Float32Array(re.length);
  const outIm = new Float32Array(re.length);
  const bit = 1 << qubit;
  for (let z0 = 0; z0 < re.length; z0++) {
    if ((z0 & bit) !== 0) continue;
    const z1 = z0 | bit;
    const x0 = re[z0]!;
    const y0 = im[z0]!;
    const x1 = re[z1]!;
    const y1 = im[z1]!;
    // a0' = c·a0 − i s·a1,  a1' = −i s·a0 + c·a1
    outRe[z0] = fround(c * x0) + fround(s * y1);
    outIm[z0] = fround(c * y0) - fround(s * x1);
    outRe[z1] = fround(c * x1) + fround(s * y0);
    outIm[z1] = fround(c * y1) - fround(s * x0);
  }
  return { qubits: state.qubits, re: outRe, im: outIm };
}

/** |amplitude z|² for every z. */
export function probabilities(state: StateVector): Float32Array {
  const p = new Float32Array(state.re.length);
  for (let z = 0; z < p.length; z++) {
    const x = state.re[z]!;
    const y = state.im[z]!;
    p[z] = fround(x * x) + fround(y * y);
  }
  return p;
}

/**
 * Σ values[i] in float32 by a fixed pairwise tree: a range of up to 8 values is added left to
 * right from +0, a longer range is split at lo + ⌊n/2⌋ and its halves' sums are added. Error grows
 * with log n instead of n (2^16 probabilities would otherwise lose ~3 decimal digits).
 */
export function pairwiseSum(values: Float32Array, lo = 0, hi = values.length): number {
  if (hi - lo <= 8) {
    let s = 0;
    for (let i = lo; i < hi; i++) s = fround(s + values[i]!);
    return s;
  }
  const mid = lo + Math.floor((hi - lo) / 2);
  return fround(pairwiseSum(values, lo, mid) + pairwiseSum(values, mid, hi));
}

/** ⟨ψ|D|ψ⟩ for the diagonal observable D(z) = level[z]: Σ |a_z|² · level[z], pairwise. */
export function levelExpectation(state: StateVector, level: Uint32Array): number {
  const p = probabilities(state);
  for (let z = 0; z < p.length; z++) p[z] = fround(p[z]! * level[z]!);
  return pairwiseSum(p);
}
