/**
 * `qaoa-optimizer`: the classical half of a QAOA loop, a compass (coordinate pattern) search over
 * the angles that maximises the expected cut. It is a step program over a transcript: its input
 * holds the energies received so far, and step i consumes energy i, the evaluation of proposal i.
 * The next angles to evaluate are a pure function of the state (proposedAngles), so
 *
 *   optimizer machine: state_i + energy_i → state_{i+1} → proposal_{i+1} ──angles──▶ qpu machine
 *   qpu machine: qaoa-maxcut(graph, proposal_{i+1}) → energy_{i+1}        ──energy──▶ optimizer
 *
 * and a verifier holding the transcript can re-execute the optimizer as it would any program.
 *
 * Compass search because it needs exactly one evaluation per step (Nelder–Mead needs a variable
 * number, which would make the message protocol stateful) and it is robust on the smooth,
 * low-dimensional QAOA landscape: probe ±h along each coordinate in turn, move on the first
 * improvement, and halve h after a full sweep without one.
 */
import { z } from "zod";
import { SwitchyardError } from "../../protocol/errors.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { ByteReader, ByteWriter } from "../encoding.ts";
import type { StepProgram } from "../program.ts";
import { type QaoaAngles, qaoaAnglesSchema } from "./qaoa-maxcut.ts";

const fround = Math.fround;

export const qaoaOptimizerInputSchema = z.strictObject({
  /** Proposal 0: the angles evaluated first. */
  initial: qaoaAnglesSchema,
  /** Initial probe distance h along each angle, in radians. */
  stepSize: z.number().positive().max(4).default(0.25),
  /** Expected cuts of proposals 0, 1, 2, … in order, as reported by qaoa-maxcut runs. */
  evaluations: z.array(z.number().min(0).max(1e9)).max(10_000).default([]),
});
export type QaoaOptimizerInput = z.infer<typeof qaoaOptimizerInputSchema>;

export interface QaoaOptimizerState {
  readonly input: QaoaOptimizerInput;
  /** Energies consumed so far; proposal number `iteration` is the next to evaluate. */
  readonly iteration: number;
  /** Best angles so far as [γ_1 … γ_p, β_1 … β_p] (float32). */
  readonly best: Float32Array;
  /** Expected cut at `best`; −∞ before the first evaluation. */
  readonly bestEnergy: number;
  readonly stepSize: number;
  /** The probe being tried: coordinate ⌊probe/2⌋, plus direction when even, minus when odd. */
  readonly probe: number;
  /** Probes in a row that did not improve; a full sweep of them halves the step. */
  readonly misses: number;
}

export interface QaoaOptimizerOutput {
  readonly best: QaoaAngles;
  readonly bestEnergy: number;
  /** The angles to evaluate next (send to a qaoa-maxcut run). */
  readonly next: QaoaAngles;
  readonly stepSize: number;
}

function toAngles(vector: Float32Array): QaoaAngles {
  const p = vector.length / 2;
  return { gammas: Array.from(vector.subarray(0, p)), betas: Array.from(vector.subarray(p)) };
}

/** The angles proposal number `state.iteration` asks to evaluate. */
export function proposedAngles(state: QaoaOptimizerState): QaoaAngles {
  if (state.iteration === 0) return toAngles(state.best);
  const probe = Float32Array.from(state.best);
  const coordinate = state.probe >> 1;
  const delta = state.probe & 1 ? -state.stepSize : state.stepSize;
  probe[coordinate] = fround(probe[coordinate]! + delta);
  return toAngles(probe);
}

function inputDigest(input: QaoaOptimizerInput): Hex32 {
  const w = new ByteWriter()
    .f32Array(Float32Array.from([...input.initial.gammas, ...input.initial.betas]))
    .f32(input.stepSize);
  return taggedHash("qaoa-optimizer-input", w.finish());
}

const stateFormat = "qaoa-optimizer/1";

export const qaoaOptimizer: StepProgram<QaoaOptimizerInput, QaoaOptimizerState, QaoaOptimizerOutput> = {
  id: "qaoa-optimizer",
  inputSchema: qaoaOptimizerInputSchema,

  stepCount(input) {
    return input.evaluations.length;
  },

  init(input) {
    return {
      input,
      iteration: 0,
      best: Float32Array.from([...input.initial.gammas, ...input.initial.betas]),
      bestEnergy: Number.NEGATIVE_INFINITY,
      stepSize: fround(input.stepSize),
      probe: 0,
      misses: 0,
    };
  },

  step(state) {
    const energy = state.input.evaluations[state.iteration];
    if (energy === undefined) {
      throw new SwitchyardError("PROGRAM_FAILED", `no evaluation for proposal ${state.iteration}`);
    }
    const value = fround(energy);
    const next = { ...state, iteration: state.iteration + 1 };
    if (state.iteration === 0) return { ...next, bestEnergy: value };
    if (value > state.bestEnergy) {
      // Keep probing the same direction: it just paid off.
      const angles = proposedAngles(state);
      return {
        ...next,
        best: Float32Array.from([...angles.gammas, ...angles.betas]),
        bestEnergy: value,
        misses: 0,
      };
    }
    const probes = state.best.length * 2;
    const misses = state.misses + 1;
    const sweepFailed = misses === probes;
    return {
      ...next,
      probe: (state.probe + 1) % probes,
      misses: sweepFailed ? 0 : misses,
      stepSize: sweepFailed ? fround(state.stepSize * 0.5) : state.stepSize,
    };
  },

  output(state) {
    return {
      best: toAngles(state.best),
      bestEnergy: state.bestEnergy,
      next: proposedAngles(state),
      stepSize: state.stepSize,
    };
  },

  encodeState(state) {
    return new ByteWriter()
      .string(stateFormat)
      .string(inputDigest(state.input))
      .u32(state.iteration)
      .f32Array(state.best)
      .f32(state.bestEnergy)
      .f32(state.stepSize)
      .u32(state.probe)
      .u32(state.misses)
      .finish();
  },

  decodeState(bytes, input) {
    const r = new ByteReader(bytes);
    if (r.string() !== stateFormat || r.string() !== inputDigest(input)) {
      throw new SwitchyardError(
        "MALFORMED",
        "state was not produced by qaoa-optimizer from these initial angles",
      );
    }
    const iteration = r.u32();
    const best = r.f32Array();
    const bestEnergy = r.f32();
    const stepSize = r.f32();
    const probe = r.u32();
    const misses = r.u32();
    r.end();
    const probes = input.initial.gammas.length * 4;
    if (
      best.length * 2 !== probes ||
      probe >= probes ||
      misses >= probes ||
      iteration > input.evaluations.length
    ) {
      throw new SwitchyardError("MALFORMED", "qaoa-optimizer state is inconsistent with its input");
    }
    return { input, iteration, best, bestEnergy, stepSize, probe, misses };
  },

  encodeOutput(output) {
    return new ByteWriter()
      .f32Array(Float32Array.from([...output.best.gammas, ...output.best.betas]))
      .f32(output.bestEnergy)
      .f32Array(Float32Array.from([...output.next.gammas, ...output.next.betas]))
      .f32(output.stepSize)
      .finish();
  },
};
