/**
 * Parameter updates in float32: plain SGD and Adam (Kingma & Ba, 2015). Each parameter element is
 * updated independently by a fixed sequence of binary32 operations (see matmul.ts for why
 * `fround` plus Float32Array stores give identical bits everywhere), so the update order over
 * elements cannot matter. Adam's bias corrections use β^t carried in the optimizer state and
 * multiplied by β once per step, instead of Math.pow, which is not reproducible across engines.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { sqrtf } from "./elementary.ts";

const fround = Math.fround;

function checkShapes(params: readonly Float32Array[], grads: readonly Float32Array[]): void {
  if (params.length !== grads.length || params.some((p, i) => p.length !== grads[i]!.length)) {
    throw new SwitchyardError("PROGRAM_FAILED", "gradients do not match the parameters' shapes");
  }
}

/** w ← w − lr·g, returning new tensors (the inputs are left as they were). */
export function sgdUpdate(
  params: readonly Float32Array[],
  grads: readonly Float32Array[],
  learningRate: number,
): Float32Array[] {
  checkShapes(params, grads);
  const lr = fround(learningRate);
  return params.map((w, t) => {
    const g = grads[t]!;
    const out = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) out[i] = w[i]! - fround(lr * g[i]!);
    return out;
  });
}

export interface AdamSettings {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

/** First and second moment estimates, and β1^t, β2^t after t updates. */
export interface AdamMoments {
  readonly first: readonly Float32Array[];
  readonly second: readonly Float32Array[];
  readonly beta1Power: number;
  readonly beta2Power: number;
}

/** Moments before the first update: zeros, and β^0 = 1. */
export function adamStart(params: readonly Float32Array[]): AdamMoments {
  return {
    first: params.map((p) => new Float32Array(p.length)),
    second: params.map((p) => new Float32Array(p.length)),
    beta1Power: 1,
    beta2Power: 1,
  };
}

/** One Adam update; returns the new parameters and moments without touching the inputs. */
export function adamUpdate(
  params: readonly Float32Array[],
  grads: readonly Float32Array[],
  moments: AdamMoments,
  settings: AdamSettings,
): { params: Float32Array[]; moments: AdamMoments } {
  checkShapes(params, grads);
  const lr = fround(settings.learningRate);
  const b1 = fround(settings.beta1);
  const b2 = fround(settings.beta2);
  const eps = fround(settings.epsilon);
  const oneMinusB1 = fround(1 - b1);
  const oneMinusB2 = fround(1 - b2);
  const beta1Power = fround(moments.beta1Power * b1);
  const beta2Power = fround(moments.beta2Power * b2);
  const correction1 = fround(1 - beta1Power);
  const correction2 = fround(1 - beta2Power);
  const first: Float32Array[] = [];
  const second: Float32Array[] = [];
  const next = params.map((w, t) => {
    const g = grads[t]!;
    const m0 = moments.first[t]!;
    const v0 = moments.second[t]!;
    const m = new Float32Array(w.length);
    const v = new Float32Array(w.length);
    const out = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = fround(fround(b1 * m0[i]!) + fround(oneMinusB1 * gi));
      const vi = fround(fround(b2 * v0[i]!) + fround(oneMinusB2 * fround(gi * gi)));
      m[i] = mi;
      v[i] = vi;
      const mHat = fround(mi / correction1);
      const vHat = fround(vi / correction2);
      out[i] = w[i]! - fround(fround(lr * mHat) / fround(sqrtf(vHat) + eps));
    }
    first.push(m);
    second.push(v);
    return out;
  });
  return { params: next, moments: { first, second, beta1Power, beta2Power } };
}
