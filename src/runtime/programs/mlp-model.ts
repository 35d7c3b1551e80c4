/**
 * A multilayer perceptron classifier over float32 kernels: dense layers with ReLU or tanh between
 * them and softmax cross-entropy at the end. Parameters are a flat list [W1, b1, W2, b2, …] with
 * W_l stored row-major as (inputs × outputs), so a layer is X·W + b.
 *
 * A trained model travels as bytes (encodeModel): layer sizes, activation, vocabulary and the
 * parameters' float32 bit patterns, so an evaluation on another machine starts from exactly the
 * weights the training committed to.
 */
import { z } from "zod";
import { fromHex, toHex } from "../../protocol/bytes.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { ByteReader, ByteWriter } from "../encoding.ts";
import { sqrtf } from "../kernels/elementary.ts";
import {
  addRowVector,
  columnSums,
  relu,
  reluBackward,
  tanhActivation,
  tanhBackward,
} from "../kernels/elementwise.ts";
import { matmul } from "../kernels/matmul.ts";
import { type Matrix, matrix, transpose } from "../kernels/matrix.ts";
import { softmaxCrossEntropy } from "../kernels/softmax.ts";
import { SplitMix32 } from "../random.ts";

const fround = Math.fround;

export const activationSchema = z.enum(["relu", "tanh"]);
export type Activation = z.infer<typeof activationSchema>;

export interface MlpShape {
  /** Units per layer, inputs first and classes last: [inputs, hidden…, classes]. */
  readonly layerSizes: readonly number[];
  readonly activation: Activation;
}

export interface MlpModel extends MlpShape {
  /** Token of each input column. */
  readonly vocabulary: readonly string[];
  readonly params: readonly Float32Array[];
}

/** Element count of each parameter tensor, in the order [W1, b1, W2, b2, …]. */
export function paramSizes(shape: MlpShape): number[] {
  const sizes: number[] = [];
  for (let l = 0; l + 1 < shape.layerSizes.length; l++) {
    sizes.push(shape.layerSizes[l]! * shape.layerSizes[l + 1]!, shape.layerSizes[l + 1]!);
  }
  return sizes;
}

/** Glorot-uniform weights in ±√(6 / (fan-in + fan-out)) from `seed`, zero biases. */
export function initialParams(shape: MlpShape, seed: number): Float32Array[] {
  const rng = new SplitMix32(seed);
  const params: Float32Array[] = [];
  for (let l = 0; l + 1 < shape.layerSizes.length; l++) {
    const fanIn = shape.layerSizes[l]!;
    const fanOut = shape.layerSizes[l + 1]!;
    const limit = sqrtf(fround(6 / (fanIn + fanOut)));
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = fround(fround(fround(2 * rng.nextUnit()) - 1) * limit);
    params.push(w, new Float32Array(fanOut));
  }
  return params;
}

interface LayerTrace {
  /** The layer's input (the previous layer's activation). */
  readonly input: Matrix;
  /** X·W + b before the activation. */
  readonly pre: Matrix;
}

function activate(m: Matrix, activation: Activation): Matrix {
  return activation === "relu" ? relu(m) : tanhActivation(m);
}

function weights(shape: MlpShape, params: readonly Float32Array[], l: number): Matrix {
  return matrix(shape.layerSizes[l]!, shape.layerSizes[l + 1]!, params[2 * l]!);
}

function forwardTrace(
  shape: MlpShape,
  params: readonly Float32Array[],
  x: Matrix,
): { logits: Matrix; trace: LayerTrace[] } {
  const trace: LayerTrace[] = [];
  const layers = shape.layerSizes.length - 1;
  let h = x;
  for (let l = 0; l < layers; l++) {
    const pre = addRowVector(matmul(h, weights(shape, params, l)), params[2 * l + 1]!);
    trace.push({ input: h, pre });
    h = l + 1 < layers ? activate(pre, shape.activation) : pre;
  }
  return { logits: h, trace };
}

/** Class scores (before softmax) for each row of `x`. */
export function logits(shape: MlpShape, params: readonly Float32Array[], x: Matrix): Matrix {
  return forwardTrace(shape, params, x).logits;
}

/** Mean cross-entropy of a batch and its gradient for every parameter, by backpropagation. */
export function lossAndGradients(
  shape: MlpShape,
  params: readonly Float32Array[],
  x: Matrix,
  labels: Uint8Array,
): { loss: number; grads: Float32Array[] } {
  const { logits: z, trace } = forwardTrace(shape, params, x);
  const { loss, gradient } = softmaxCrossEntropy(z, labels);
  const grads: Float32Array[] = new Array(params.length);
  let delta = gradient;
  for (let l = trace.length - 1; l >= 0; l--) {
    const { input } = trace[l]!;
    grads[2 * l] = matmul(transpose(input), delta).data;
    grads[2 * l + 1] = columnSums(delta);
    if (l === 0) break;
    const back = matmul(delta, transpose(weights(shape, params, l)));
    const below = trace[l - 1]!;
    delta = shape.activation === "relu" ? reluBackward(back, below.pre) : tanhBackward(back, input);
  }
  return { loss, grads };
}

/** Index of the largest score of each row; the lowest index wins a tie. */
export function predictions(scores: Matrix): Uint8Array {
  const out = new Uint8Array(scores.rows);
  for (let i = 0; i < scores.rows; i++) {
    let best = 0;
    for (let j = 1; j < scores.cols; j++) {
      if (scores.data[i * scores.cols + j]! > scores.data[i * scores.cols + best]!) best = j;
    }
    out[i] = best;
  }
  return out;
}

const modelFormat = "switchyard-mlp/1";

/** The model's bytes: format tag, shape, vocabulary, parameters. */
export function encodeModel(model: MlpModel): Uint8Array {
  const w = new ByteWriter().string(modelFormat).string(model.activation).u32(model.layerSizes.length);
  for (const size of model.layerSizes) w.u32(size);
  w.u32(model.vocabulary.length);
  for (const token of model.vocabulary) w.string(token);
  for (const p of model.params) w.f32Array(p);
  return w.finish();
}

/** Parses and checks a model's bytes; MALFORMED if they are not a consistent model. */
export function decodeModel(bytes: Uint8Array): MlpModel {
  const r = new ByteReader(bytes);
  if (r.string() !== modelFormat)
    throw new SwitchyardError("MALFORMED", `model is not in format ${modelFormat}`);
  const activation = activationSchema.safeParse(r.string());
  if (!activation.success) throw new SwitchyardError("MALFORMED", "model names an unknown activation");
  const layerSizes = Array.from({ length: r.count(4) }, () => r.u32());
  const vocabulary = Array.from({ length: r.count(4) }, () => r.string());
  if (layerSizes.length < 2 || layerSizes[0] !== vocabulary.length) {
    throw new SwitchyardError("MALFORMED", "model layers do not match its vocabulary");
  }
  const params: Float32Array[] = [];
  for (let l = 0; l + 1 < layerSizes.length; l++) {
    const w = r.f32Array();
    const b = r.f32Array();
    if (w.length !== layerSizes[l]! * layerSizes[l + 1]! || b.length !== layerSizes[l + 1]!) {
      throw new SwitchyardError("MALFORMED", `model layer ${l} has the wrong number of parameters`);
    }
    params.push(w, b);
  }
  r.end();
  return { layerSizes, activation: activation.data, vocabulary, params };
}

/** Hex form of encodeModel, for JSON job specs and outputs. */
export function modelToHex(model: MlpModel): string {
  return toHex(encodeModel(model));
}

export function modelFromHex(hex: string): MlpModel {
  return decodeModel(fromHex(hex));
}
