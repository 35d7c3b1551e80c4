/**
 * A QAOA optimisation loop run in one process: the optimizer half (qaoa-optimizer) and the qpu half
 * (qaoa-maxcut) exchange only the two messages below, exactly as they would between two machines
 * in a pipeline loop (DESIGN.md §4, routing). The optimizer half resumes from its encoded state
 * each round, re-attached to the transcript grown by one energy — the same path a remote optimizer
 * takes after receiving an EnergyMessage.
 */
import type { Hex32 } from "../../protocol/ids.ts";
import { runProgram, runSegment } from "../program.ts";
import { type MaxCutGraph, type QaoaAngles, qaoaMaxCut } from "./qaoa-maxcut.ts";
import {
  proposedAngles,
  type QaoaOptimizerInput,
  type QaoaOptimizerState,
  qaoaOptimizer,
} from "./qaoa-optimizer.ts";

/** Optimizer → qpu: evaluate these angles. */
export interface AnglesMessage {
  readonly round: number;
  readonly angles: QaoaAngles;
}

/** Qpu → optimizer: the expected cut at the angles of `round`, and the run's committed root. */
export interface EnergyMessage {
  readonly round: number;
  readonly expectedCut: number;
  readonly root: Hex32;
}

export interface QaoaLoopOptions {
  readonly graph: MaxCutGraph;
  readonly initial: QaoaAngles;
  /** Rounds, i.e. qaoa-maxcut evaluations. */
  readonly iterations: number;
  readonly stepSize?: number;
  readonly checkpointEvery?: number;
}

export interface QaoaLoopResult {
  readonly rounds: readonly { readonly angles: AnglesMessage; readonly energy: EnergyMessage }[];
  readonly best: QaoaAngles;
  readonly bestEnergy: number;
  /** Root of the optimizer's run over the whole transcript: what its provider commits to. */
  readonly optimizerRoot: Hex32;
}

/** The qpu half: one qaoa-maxcut run per AnglesMessage. */
export function evaluateAngles(
  graph: MaxCutGraph,
  message: AnglesMessage,
  checkpointEvery: number,
): EnergyMessage {
  const run = runProgram(qaoaMaxCut, { graph, angles: message.angles }, { checkpointEvery });
  return { round: message.round, expectedCut: run.output.expectedCut, root: run.root };
}

/** Runs `iterations` rounds of propose → evaluate → observe and returns the transcript. */
export function runQaoaLoop(options: QaoaLoopOptions): QaoaLoopResult {
  const checkpointEvery = options.checkpointEvery ?? 8;
  const evaluations: number[] = [];
  const optimizerInput = (): QaoaOptimizerInput => ({
    initial: options.initial,
    stepSize: options.stepSize ?? 0.25,
    evaluations: [...evaluations],
  });
  let state: QaoaOptimizerState = qaoaOptimizer.init(optimizerInput());
  const rounds: { angles: AnglesMessage; energy: EnergyMessage }[] = [];
  for (let round = 0; round < options.iterations; round++) {
    const angles: AnglesMessage = { round, angles: proposedAngles(state) };
    const energy = evaluateAngles(options.graph, angles, checkpointEvery);
    rounds.push({ angles, energy });
    evaluations.push(energy.expectedCut);
    const resumed = qaoaOptimizer.decodeState(qaoaOptimizer.encodeState(state), optimizerInput());
    state = runSegment(qaoaOptimizer, resumed, round, round + 1);
  }
  const final = runProgram(qaoaOptimizer, optimizerInput(), { checkpointEvery });
  return {
    rounds,
    best: final.output.best,
    bestEnergy: final.output.bestEnergy,
    optimizerRoot: final.root,
  };
}
