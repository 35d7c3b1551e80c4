/**
 * `mlp-train`: trains an MLP spam classifier on the SpamAssassin corpus (spam-corpus.ts). One step
 * is one minibatch. The batches of epoch e are a shuffle of the training set seeded by (seed, e),
 * so which examples step i sees is a function of the input and i alone, and the state needs to carry
 * only the step counter, the parameters and the optimizer's moments to resume anywhere.
 */
import { z } from "zod";
import { fromHex } from "../../protocol/bytes.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { ByteReader, ByteWriter } from "../encoding.ts";
import { type Matrix, matrix } from "../kernels/matrix.ts";
import { type AdamMoments, adamStart, adamUpdate, sgdUpdate } from "../kernels/optimizers.ts";
import { softmaxCrossEntropy } from "../kernels/softmax.ts";
import type { StepProgram } from "../program.ts";
import { deriveSeed, SplitMix32, shuffleInPlace } from "../random.ts";
import {
  activationSchema,
  initialParams,
  logits,
  lossAndGradients,
  type MlpShape,
  modelToHex,
  paramSizes,
  predictions,
} from "./mlp-model.ts";
import {
  buildVocabulary,
  corpusSplitSchema,
  examplesDigest,
  featurize,
  type LabelledExamples,
  spamClasses,
  splitIndices,
} from "./spam-corpus.ts";

const u32 = z.int().min(0).max(0xffffffff);

const optimizerSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("adam"),
    learningRate: z.number().positive().max(1).default(0.001),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: z.number().positive().max(1).default(1e-7),
  }),
  z.strictObject({ kind: z.literal("sgd"), learningRate: z.number().positive().max(10).default(0.1) }),
]);

export const mlpTrainInputSchema = z.strictObject({
  corpus: corpusSplitSchema.prefault({}),
  /** Input features: the most frequent training tokens. */
  vocabularySize: z.int().min(8).max(4096).default(512),
  hiddenLayers: z.array(z.int().min(1).max(512)).min(1).max(4).default([32]),
  activation: activationSchema.default("relu"),
  /** Seeds weight initialisation and the per-epoch shuffles. */
  seed: u32.default(7),
  epochs: z.int().min(1).max(200).default(2),
  batchSize: z.int().min(1).max(4096).default(64),
  optimizer: optimizerSchema.prefault({ kind: "adam" }),
});
export type MlpTrainInput = z.infer<typeof mlpTrainInputSchema>;

/** Everything a run derives from its input and never changes: data, vocabulary, shape. */
interface TrainingContext {
  readonly input: MlpTrainInput;
  readonly shape: MlpShape;
  readonly vocabulary: readonly string[];
  readonly train: LabelledExamples;
  readonly digest: Hex32;
  readonly batchesPerEpoch: number;
  /** The shuffle of the most recent epoch asked for (steps run in order, so one is enough). */
  shuffle: { epoch: number; order: Uint32Array } | undefined;
}

export interface MlpTrainState {
  readonly context: TrainingContext;
  readonly step: number;
  readonly params: readonly Float32Array[];
  /** Adam's moments; absent for SGD. */
  readonly moments: AdamMoments | undefined;
}

export interface MlpTrainOutput {
  /** The trained model, hex of encodeModel (vocabulary, shape, float32 weights). */
  readonly model: string;
  /** Mean cross-entropy over the whole training set after the last step (float32). */
  readonly trainLoss: number;
  readonly trainCorrect: number;
  readonly trainExamples: number;
}

let contextCache: { key: string; context: TrainingContext } | undefined;

function prepare(input: MlpTrainInput): TrainingContext {
  const key = JSON.stringify(input);
  if (contextCache?.key === key) return contextCache.context;
  const { train } = splitIndices(input.corpus);
  const vocabulary = buildVocabulary(train, input.vocabularySize);
  const context: TrainingContext = {
    input,
    shape: {
      layerSizes: [vocabulary.length, ...input.hiddenLayers, spamClasses],
      activation: input.activation,
    },
    vocabulary,
    train: featurize(train, vocabulary),
    digest: examplesDigest(train, vocabulary),
    batchesPerEpoch: Math.ceil(train.length / input.batchSize),
    shuffle: undefined,
  };
  contextCache = { key, context };
  return context;
}

/** The rows of the training set that step `step` trains on. */
function batchRows(context: TrainingContext, step: number): Uint32Array {
  const epoch = Math.floor(step / context.batchesPerEpoch);
  if (context.shuffle?.epoch !== epoch) {
    const rng = new SplitMix32(deriveSeed(context.input.seed, "mlp-train-epoch", epoch));
    const order = shuffleInPlace(
      Uint32Array.from({ length: context.train.labels.length }, (_, i) => i),
      rng,
    );
    context.shuffle = { epoch, order };
  }
  const from = (step % context.batchesPerEpoch) * context.input.batchSize;
  return context.shuffle.order.subarray(from, from + context.input.batchSize);
}

function gather(examples: LabelledExamples, rows: Uint32Array): { x: Matrix; labels: Uint8Array } {
  const cols = examples.features.cols;
  const x = matrix(rows.length, cols);
  const labels = new Uint8Array(rows.length);
  rows.forEach((r, i) => {
    x.data.set(examples.features.data.subarray(r * cols, (r + 1) * cols), i * cols);
    labels[i] = examples.labels[r]!;
  });
  return { x, labels };
}

const stateFormat = "mlp-train/1";

export const mlpTrain: StepProgram<MlpTrainInput, MlpTrainState, MlpTrainOutput> = {
  id: "mlp-train",
  inputSchema: mlpTrainInputSchema,

  stepCount(input) {
    return input.epochs * prepare(input).batchesPerEpoch;
  },

  init(input) {
    const context = prepare(input);
    const params = initialParams(context.shape, deriveSeed(input.seed, "mlp-train-init"));
    return {
      context,
      step: 0,
      params,
      moments: input.optimizer.kind === "adam" ? adamStart(params) : undefined,
    };
  },

  step(state) {
    const { context } = state;
    const { x, labels } = gather(context.train, batchRows(context, state.step));
    const { grads } = lossAndGradients(context.shape, state.params, x, labels);
    const optimizer = context.input.optimizer;
    if (optimizer.kind === "sgd") {
      return {
        ...state,
        step: state.step + 1,
        params: sgdUpdate(state.params, grads, optimizer.learningRate),
      };
    }
    if (state.moments === undefined)
      throw new SwitchyardError("PROGRAM_FAILED", "Adam state without moments");
    const next = adamUpdate(state.params, grads, state.moments, optimizer);
    return { ...state, step: state.step + 1, params: next.params, moments: next.moments };
  },

  output(state) {
    const { context } = state;
    const scores = logits(context.shape, state.params, context.train.features);
    const { loss } = softmaxCrossEntropy(scores, context.train.labels);
    const predicted = predictions(scores);
    const trainCorrect = predicted.reduce((n, p, i) => n + (p === context.train.labels[i] ? 1 : 0), 0);
    const model = modelToHex({ ...context.shape, vocabulary: context.vocabulary, params: state.params });
    return { model, trainLoss: loss, trainCorrect, trainExamples: predicted.length };
  },

  encodeState(state) {
    const w = new ByteWriter().string(stateFormat).string(state.context.digest).u32(state.step);
    w.u32(state.params.length);
    for (const p of state.params) w.f32Array(p);
    if (state.moments !== undefined) {
      w.f32(state.moments.beta1Power).f32(state.moments.beta2Power);
      for (const m of state.moments.first) w.f32Array(m);
      for (const v of state.moments.second) w.f32Array(v);
    }
    return w.finish();
  },

  decodeState(bytes, input) {
    const context = prepare(input);
    const r = new ByteReader(bytes);
    if (r.string() !== stateFormat || r.string() !== context.digest) {
      throw new SwitchyardError("MALFORMED", "state was not produced by mlp-train on this input's data");
    }
    const step = r.u32();
    const params = Array.from({ length: r.count(4) }, () => r.f32Array());
    const sizes = paramSizes(context.shape);
    if (params.length !== sizes.length || params.some((p, i) => p.length !== sizes[i])) {
      throw new SwitchyardError("MALFORMED", "state parameters do not match the input's model shape");
    }
    let moments: AdamMoments | undefined;
    if (input.optimizer.kind === "adam") {
      const beta1Power = r.f32();
      const beta2Power = r.f32();
      const first = params.map(() => r.f32Array());
      const second = params.map(() => r.f32Array());
      if ([...first, ...second].some((m, i) => m.length !== params[i % params.length]!.length)) {
        throw new SwitchyardError("MALFORMED", "state moments do not match the parameters");
      }
      moments = { first, second, beta1Power, beta2Power };
    }
    r.end();
    return { context, step, params, moments };
  },

  encodeOutput(output) {
    return new ByteWriter()
      .bytes(fromHex(output.model))
      .f32(output.trainLoss)
      .u32(output.trainCorrect)
      .u32(output.trainExamples)
      .finish();
  },
};
