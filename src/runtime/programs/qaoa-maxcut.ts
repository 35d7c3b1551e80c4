/**
 * `qaoa-maxcut`: evaluates QAOA (Farhi, Goldstone, Gutmann 2014) for MaxCut at given angles on the
 * float32 state-vector simulator — the `qpu` workload class. The circuit is |+⟩^n followed by p
 * layers of e^{-iγ_l C} (C the cut value, diagonal) and e^{-iβ_l X} on every qubit. One step is the
 * cost phase of a layer or the mixer on one qubit, so a layer is n + 1 steps and a dispute can be
 * narrowed to a single gate. The output is the expected cut ⟨C⟩, the energy a classical optimizer
 * maximises (qaoa-optimizer.ts), plus the exact maximum cut for reference.
 *
 * Edge weights are positive integers, so cut values are exact integers and e^{-iγC} needs cos and
 * sin only once per distinct cut value. Accuracy of the phases holds while |γ|·(total weight) stays
 * within trigAccurateBound (8192); beyond it results remain deterministic but lose precision.
 */
import { z } from "zod";
import { SwitchyardError } from "../../protocol/errors.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { ByteReader, ByteWriter } from "../encoding.ts";
import {
  applyLevelPhase,
  applyMixer,
  levelExpectation,
  probabilities,
  type StateVector,
  uniformSuperposition,
} from "../kernels/statevector.ts";
import type { StepProgram } from "../program.ts";

/** Above this the state (2^n amplitudes, 8 bytes each, hashed at every checkpoint) gets costly. */
export const maxQubits = 20;

const edgeSchema = z.union([
  z.tuple([z.int().min(0), z.int().min(0)]),
  z.tuple([z.int().min(0), z.int().min(0), z.int().min(1).max(100)]),
]);

export const maxCutGraphSchema = z
  .strictObject({
    nodes: z.int().min(2).max(maxQubits),
    /** [u, v] or [u, v, weight]; weight defaults to 1. */
    edges: z.array(edgeSchema).min(1).max(190),
  })
  .superRefine((graph, ctx) => {
    const seen = new Set<string>();
    graph.edges.forEach(([u, v], i) => {
      const key = `${Math.min(u, v)}-${Math.max(u, v)}`;
      if (u === v || u >= graph.nodes || v >= graph.nodes || seen.has(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["edges", i],
          message: "edge must join two distinct nodes, once",
        });
      }
      seen.add(key);
    });
  });
export type MaxCutGraph = z.infer<typeof maxCutGraphSchema>;

const angle = z.number().min(-64).max(64);

export const qaoaAnglesSchema = z
  .strictObject({ gammas: z.array(angle).min(1).max(16), betas: z.array(angle).min(1).max(16) })
  .refine((a) => a.gammas.length === a.betas.length, "one gamma and one beta per layer");
export type QaoaAngles = z.infer<typeof qaoaAnglesSchema>;

export const qaoaMaxCutInputSchema = z.strictObject({ graph: maxCutGraphSchema, angles: qaoaAnglesSchema });
export type QaoaMaxCutInput = z.infer<typeof qaoaMaxCutInputSchema>;

interface CircuitContext {
  readonly input: QaoaMaxCutInput;
  /** Cut value of every basis state z (bit q of z = side of node q). */
  readonly cut: Uint32Array;
  readonly totalWeight: number;
  /** Names graph and angles as float32: states of different circuits never hash alike. */
  readonly digest: Hex32;
}

export interface QaoaMaxCutState {
  readonly context: CircuitContext;
  readonly step: number;
  readonly vector: StateVector;
}

export interface QaoaMaxCutOutput {
  /** ⟨C⟩ in the final state (float32). */
  readonly expectedCut: number;
  /** The best cut of the graph, by enumeration. */
  readonly maxCut: number;
  /** The most probable basis state (lowest index on ties), its cut and probability. */
  readonly mostLikely: { readonly assignment: number; readonly cut: number; readonly probability: number };
}

function cutTable(graph: MaxCutGraph): { cut: Uint32Array; totalWeight: number } {
  const cut = new Uint32Array(1 << graph.nodes);
  let totalWeight = 0;
  for (const [u, v, w = 1] of graph.edges) {
    totalWeight += w;
    for (let z = 0; z < cut.length; z++) if (((z >>> u) ^ (z >>> v)) & 1) cut[z]! += w;
  }
  return { cut, totalWeight };
}

function circuitDigest(input: QaoaMaxCutInput): Hex32 {
  const w = new ByteWriter().u32(input.graph.nodes).u32(input.graph.edges.length);
  for (const [u, v, weight = 1] of input.graph.edges) w.u32(u).u32(v).u32(weight);
  w.f32Array(Float32Array.from(input.angles.gammas)).f32Array(Float32Array.from(input.angles.betas));
  return taggedHash("qaoa-maxcut-circuit", w.finish());
}

let contextCache: { key: string; context: CircuitContext } | undefined;

function prepare(input: QaoaMaxCutInput): CircuitContext {
  const key = JSON.stringify(input);
  if (contextCache?.key === key) return contextCache.context;
  const context = { input, ...cutTable(input.graph), digest: circuitDigest(input) };
  contextCache = { key, context };
  return context;
}

const stateFormat = "qaoa-maxcut/1";

export const qaoaMaxCut: StepProgram<QaoaMaxCutInput, QaoaMaxCutState, QaoaMaxCutOutput> = {
  id: "qaoa-maxcut",
  inputSchema: qaoaMaxCutInputSchema,

  stepCount(input) {
    return input.angles.gammas.length * (input.graph.nodes + 1);
  },

  init(input) {
    return { context: prepare(input), step: 0, vector: uniformSuperposition(input.graph.nodes) };
  },

  step(state) {
    const { input, cut, totalWeight } = state.context;
    const perLayer = input.graph.nodes + 1;
    const layer = Math.floor(state.step / perLayer);
    const gate = state.step % perLayer;
    const vector =
      gate === 0
        ? applyLevelPhase(state.vector, cut, totalWeight + 1, input.angles.gammas[layer]!)
        : applyMixer(state.vector, gate - 1, input.angles.betas[layer]!);
    return { context: state.context, step: state.step + 1, vector };
  },

  output(state) {
    const { cut } = state.context;
    const p = probabilities(state.vector);
    let best = 0;
    for (let z = 1; z < p.length; z++) if (p[z]! > p[best]!) best = z;
    return {
      expectedCut: levelExpectation(state.vector, cut),
      maxCut: cut.reduce((m, c) => Math.max(m, c), 0),
      mostLikely: { assignment: best, cut: cut[best]!, probability: p[best]! },
    };
  },

  encodeState(state) {
    return new ByteWriter()
      .string(stateFormat)
      .string(state.context.digest)
      .u32(state.step)
      .f32Array(state.vector.re)
      .f32Array(state.vector.im)
      .finish();
  },

  decodeState(bytes, input) {
    const context = prepare(input);
    const r = new ByteReader(bytes);
    if (r.string() !== stateFormat || r.string() !== context.digest) {
      throw new SwitchyardError("MALFORMED", "state was not produced by qaoa-maxcut on this circuit");
    }
    const step = r.u32();
    const re = r.f32Array();
    const im = r.f32Array();
    r.end();
    if (re.length !== 1 << input.graph.nodes || im.length !== re.length) {
      throw new SwitchyardError("MALFORMED", "state vector size does not match the graph");
    }
    return { context, step, vector: { qubits: input.graph.nodes, re, im } };
  },

  encodeOutput(output) {
    return new ByteWriter()
      .f32(output.expectedCut)
      .u32(output.maxCut)
      .u32(output.mostLikely.assignment)
      .u32(output.mostLikely.cut)
      .f32(output.mostLikely.probability)
      .finish();
  },
};
