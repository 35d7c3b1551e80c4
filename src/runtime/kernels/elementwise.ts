/**
 * Element-wise and broadcast float32 kernels for dense layers: bias, ReLU, tanh and their
 * gradients, and column sums. Every arithmetic result is rounded to binary32 (explicit fround or a
 * Float32Array store, which rounds identically; see matmul.ts), so each output element is a
 * function of its inputs alone. The only reduction, columnSums, runs over rows in increasing order.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { tanhf } from "./elementary.ts";
import { type Matrix, matrix } from "./matrix.ts";

const fround = Math.fround;

function sameShape(a: Matrix, b: Matrix, what: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new SwitchyardError("PROGRAM_FAILED", `${what}: ${a.rows}×${a.cols} against ${b.rows}×${b.cols}`);
  }
}

/** out[i, j] = m[i, j] + bias[j]: a bias row added to every row. */
export function addRowVector(m: Matrix, bias: Float32Array): Matrix {
  if (bias.length !== m.cols) {
    throw new SwitchyardError("PROGRAM_FAILED", `bias of ${bias.length} for ${m.cols} columns`);
  }
  const out = matrix(m.rows, m.cols);
  for (let i = 0; i < m.rows; i++) {
    const row = i * m.cols;
    for (let j = 0; j < m.cols; j++) out.data[row + j] = m.data[row + j]! + bias[j]!;
  }
  return out;
}

/** Sum of each column, adding rows 0, 1, 2, … in that order into a +0 accumulator. */
export function columnSums(m: Matrix): Float32Array {
  const sums = new Float32Array(m.cols);
  for (let i = 0; i < m.rows; i++) {
    const row = i * m.cols;
    for (let j = 0; j < m.cols; j++) sums[j] = sums[j]! + m.data[row + j]!;
  }
  return sums;
}

/** max(x, 0). NaN stays NaN, so a diverged run shows up in the checkpoints instead of hiding. */
export function relu(m: Matrix): Matrix {
  const out = matrix(m.rows, m.cols);
  for (let i = 0; i < m.data.length; i++) {
    const x = m.data[i]!;
    out.data[i] = Math.max(x, 0);
  }
  return out;
}

/** Gradient through ReLU: passes where the pre-activation was > 0; the subgradient at 0 is 0. */
export function reluBackward(grad: Matrix, preActivation: Matrix): Matrix {
  sameShape(grad, preActivation, "reluBackward");
  const out = matrix(grad.rows, grad.cols);
  for (let i = 0; i < grad.data.length; i++) out.data[i] = preActivation.data[i]! > 0 ? grad.data[i]! : 0;
  return out;
}

/** tanh, element-wise, through the deterministic tanhf. */
export function tanhActivation(m: Matrix): Matrix {
  const out = matrix(m.rows, m.cols);
  for (let i = 0; i < m.data.length; i++) out.data[i] = tanhf(m.data[i]!);
  return out;
}

/** Gradient through tanh from its output y: grad · (1 − y²), each step rounded to float32. */
export function tanhBackward(grad: Matrix, activated: Matrix): Matrix {
  sameShape(grad, activated, "tanhBackward");
  const out = matrix(grad.rows, grad.cols);
  for (let i = 0; i < grad.data.length; i++) {
    const y = activated.data[i]!;
    out.data[i] = fround(grad.data[i]! * fround(1 - fround(y * y)));
  }
  return out;
}
