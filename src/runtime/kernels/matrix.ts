/**
 * A dense row-major float32 matrix: the one tensor shape the built-in programs need. Element (i, j)
 * is `data[i * cols + j]`. Float32Array storage rounds every write to binary32, so whatever a kernel
 * computes, the stored value is always a float32 value (see matmul.ts for why that matters).
 */
import { SwitchyardError } from "../../protocol/errors.ts";

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/** A rows × cols matrix of +0, or over `data` (which must hold exactly rows × cols values). */
export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 0 || cols < 0) {
    throw new SwitchyardError("PROGRAM_FAILED", `matrix shape ${rows}×${cols} is not a pair of counts`);
  }
  const values = data ?? new Float32Array(rows * cols);
  if (values.length !== rows * cols) {
    throw new SwitchyardError("PROGRAM_FAILED", `matrix ${rows}×${cols} needs ${rows * cols} values`, {
      details: { rows, cols, length: values.length },
    });
  }
  return { rows, cols, data: values };
}

/** The transpose, as a new matrix. Copies only: no arithmetic, so no rounding. */
export function transpose(a: Matrix): Matrix {
  const out = matrix(a.cols, a.rows);
  const { rows, cols, data } = a;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out.data[j * rows + i] = data[i * cols + j]!;
  }
  return out;
}
