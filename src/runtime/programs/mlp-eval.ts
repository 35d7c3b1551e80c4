/**
 * `mlp-eval`: batch inference and evaluation of a model trained by mlp-train on the held-out (or
 * training) messages of the SpamAssassin corpus. One step scores one batch. Besides accuracy, every
 * example gets a fingerprint, the hash of its float32 logits: two evaluations that agree on every
 * fingerprint computed bit-identical outputs, and a disagreement names the first differing example.
 */
import { z } from "zod";
import { concatBytes, fromHex, toHex } from "../../protocol/bytes.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { sha256, taggedHash } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { ByteReader, ByteWriter } from "../encoding.ts";
import { matrix } from "../kernels/matrix.ts";
import type { StepProgram } from "../program.ts";
import { logits, type MlpModel, modelFromHex, predictions } from "./mlp-model.ts";
import {
  corpusSplitSchema,
  examplesDigest,
  featurize,
  type LabelledExamples,
  splitIndices,
} from "./spam-corpus.ts";

export const mlpEvalInputSchema = z.strictObject({
  /** Hex of a trained model, as in mlp-train's output. */
  model: z.string().regex(/^([0-9a-f]{2})+$/, "expected the hex of an encoded model"),
  /** Must equal the split the model was trained with, or "test" is not held out. */
  corpus: corpusSplitSchema.prefault({}),
  part: z.enum(["test", "train"]).default("test"),
  batchSize: z.int().min(1).max(4096).default(256),
});
export type MlpEvalInput = z.infer<typeof mlpEvalInputSchema>;

interface EvaluationContext {
  readonly model: MlpModel;
  /** Hash of the model's bytes: states name the weights they were computed with. */
  readonly modelDigest: Hex32;
  readonly examples: LabelledExamples;
  readonly digest: Hex32;
  readonly batchSize: number;
}

export interface MlpEvalState {
  readonly context: EvaluationContext;
  /** Examples scored so far. */
  readonly done: number;
  readonly correct: number;
  /** 32 bytes per scored example: SHA-256 fingerprints of their logits, in example order. */
  readonly fingerprints: Uint8Array;
}

export interface MlpEvalOutput {
  readonly examples: number;
  readonly correct: number;
  /** correct / examples; derived, so not part of the output hash. */
  readonly accuracy: number;
  readonly fingerprints: Hex32[];
}

let contextCache: { key: string; context: EvaluationContext } | undefined;

function prepare(input: MlpEvalInput): EvaluationContext {
  const key = JSON.stringify(input);
  if (contextCache?.key === key) return contextCache.context;
  const model = modelFromHex(input.model);
  const indices = splitIndices(input.corpus)[input.part];
  const context: EvaluationContext = {
    model,
    modelDigest: taggedHash("mlp-eval-model", fromHex(input.model)),
    examples: featurize(indices, model.vocabulary),
    digest: examplesDigest(indices, model.vocabulary),
    batchSize: input.batchSize,
  };
  contextCache = { key, context };
  return context;
}

const fingerprintDomain = "mlp-eval-logits";
const stateFormat = "mlp-eval/1";

export const mlpEval: StepProgram<MlpEvalInput, MlpEvalState, MlpEvalOutput> = {
  id: "mlp-eval",
  inputSchema: mlpEvalInputSchema,

  stepCount(input) {
    const context = prepare(input);
    return Math.ceil(context.examples.labels.length / context.batchSize);
  },

  init(input) {
    return { context: prepare(input), done: 0, correct: 0, fingerprints: new Uint8Array(0) };
  },

  step(state) {
    const { model, examples, batchSize } = state.context;
    const cols = examples.features.cols;
    const count = Math.min(batchSize, examples.labels.length - state.done);
    const x = matrix(
      count,
      cols,
      examples.features.data.slice(state.done * cols, (state.done + count) * cols),
    );
    const scores = logits(model, model.params, x);
    const predicted = predictions(scores);
    let correct = state.correct;
    const prints: Uint8Array[] = [state.fingerprints];
    for (let i = 0; i < count; i++) {
      if (predicted[i] === examples.labels[state.done + i]) correct++;
      const row = scores.data.subarray(i * scores.cols, (i + 1) * scores.cols);
      prints.push(sha256(new ByteWriter().string(fingerprintDomain).f32Array(row).finish()));
    }
    return { ...state, done: state.done + count, correct, fingerprints: concatBytes(...prints) };
  },

  output(state) {
    const fingerprints: Hex32[] = [];
    for (let i = 0; i < state.done; i++)
      fingerprints.push(toHex(state.fingerprints.subarray(i * 32, i * 32 + 32)) as Hex32);
    return {
      examples: state.done,
      correct: state.correct,
      accuracy: state.done === 0 ? 0 : state.correct / state.done,
      fingerprints,
    };
  },

  encodeState(state) {
    return new ByteWriter()
      .string(stateFormat)
      .string(state.context.digest)
      .string(state.context.modelDigest)
      .u32(state.done)
      .u32(state.correct)
      .bytes(state.fingerprints)
      .finish();
  },

  decodeState(bytes, input) {
    const context = prepare(input);
    const r = new ByteReader(bytes);
    if (r.string() !== stateFormat || r.string() !== context.digest || r.string() !== context.modelDigest) {
      throw new SwitchyardError(
        "MALFORMED",
        "state was not produced by mlp-eval on this input's model and data",
      );
    }
    const done = r.u32();
    const correct = r.u32();
    const fingerprints = r.bytes();
    r.end();
    if (done > context.examples.labels.length || correct > done || fingerprints.length !== done * 32) {
      throw new SwitchyardError("MALFORMED", "mlp-eval state is inconsistent");
    }
    return { context, done, correct, fingerprints };
  },

  encodeOutput(output) {
    const w = new ByteWriter().u32(output.examples).u32(output.correct).u32(output.fingerprints.length);
    for (const f of output.fingerprints) w.bytes(fromHex(f));
    return w.finish();
  },
};
