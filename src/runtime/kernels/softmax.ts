/**
 * Softmax with cross-entropy, row by row, in float32 with a fixed order: the row maximum, then
 * e^(z − max) through the deterministic expf, summed over classes 0, 1, 2, … in order, then one
 * division per class. The loss of a row is log(Σ) − (z_label − max), which never takes the log of a
 * rounded-to-zero probability. The batch loss is the mean of row losses added in row order.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { expf, logf } from "./elementary.ts";
import { type Matrix, matrix } from "./matrix.ts";

const fround = Math.fround;

export interface SoftmaxCrossEntropy {
  /** Mean cross-entropy over the rows (float32). */
  readonly loss: number;
  /** Class probabilities, one row per example. */
  readonly probabilities: Matrix;
  /** d loss / d logits = (p − onehot(label)) / rows. */
  readonly gradient: Matrix;
}

/** Softmax probabilities, mean cross-entropy against integer labels, and the logits' gradient. */
export function softmaxCrossEntropy(logits: Matrix, labels: Uint8Array): SoftmaxCrossEntropy {
  const { rows, cols } = logits;
  if (labels.length !== rows) {
    throw new SwitchyardError("PROGRAM_FAILED", `${labels.length} labels for ${rows} rows of logits`);
  }
  const probabilities = matrix(rows, cols);
  const gradient = matrix(rows, cols);
  const scale = fround(1 / rows);
  let lossSum = 0;
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    const label = labels[i]!;
    if (label >= cols) throw new SwitchyardError("PROGRAM_FAILED", `label ${label} outside ${cols} classes`);
    let max = logits.data[row]!;
    for (let j = 1; j < cols; j++) max = Math.max(max, logits.data[row + j]!);
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = expf(fround(logits.data[row + j]! - max));
      probabilities.data[row + j] = e;
      sum = fround(sum + e);
    }
    for (let j = 0; j < cols; j++) {
      const p = fround(probabilities.data[row + j]! / sum);
      probabilities.data[row + j] = p;
      gradient.data[row + j] = fround(fround(j === label ? p - 1 : p) * scale);
    }
    const rowLoss = fround(logf(sum) - fround(logits.data[row + label]! - max));
    lossSum = fround(lossSum + rowLoss);
  }
  return { loss: fround(lossSum * scale), probabilities, gradient };
}
