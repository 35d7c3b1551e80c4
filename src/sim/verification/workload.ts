/**
 * Real work for the verification simulator: small QAOA max-cut runs (src/runtime), honest or
 * produced by a cheating strategy, and the two things a verifier does with them — re-execute one
 * committed segment, and play a bisection dispute down to one step the referee executes. Nothing
 * here is assumed: a check passes only when the re-executed state hashes to the committed one.
 *
 * Provider runs are computed once per workload and reused by the simulator (a run is a
 * deterministic function of its input, so recomputing it per stage would only cost time); every
 * check and every referee step is executed afresh.
 */

import {
  answerDispute,
  type DisputeOutcome,
  disputeQuery,
  expireDispute,
  openDispute,
  refereeDispute,
} from "../../core/verification/dispute.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { merkleRoot } from "../../protocol/merkle.ts";
import { checkpointHash, checkpointSteps, outputHash, runSegment } from "../../runtime/program.ts";
import {
  type QaoaMaxCutInput,
  type QaoaMaxCutState,
  qaoaMaxCut,
} from "../../runtime/programs/qaoa-maxcut.ts";
import type { SimRandom } from "../random.ts";

export const program = qaoaMaxCut;
/** 7 qubits × 8 layers: 64 steps; a checkpoint every 2 steps gives 32 segments. */
export const checkpointEvery = 2;
const nodes = 7;
const layers = 8;

export type CheatStrategy = "wrong-result" | "skipped-steps" | "replayed-output";
export const cheatStrategies: readonly CheatStrategy[] = ["wrong-result", "skipped-steps", "replayed-output"];

/** What a provider commits to, plus what it can later reveal and claim in a dispute. */
export interface StageRun {
  readonly input: QaoaMaxCutInput;
  readonly steps: number;
  readonly at: readonly number[];
  readonly checkpoints: readonly Hex32[];
  readonly root: Hex32;
  /** Steps the provider actually executed (its cost). */
  readonly stepsComputed: number;
  /** Segments a check would find wrong (0 for honest work): the per-check detection numerator. */
  readonly wrongSegments: number;
  /** Encoded state of checkpoint j, if the provider has it (a fabricator has none). */
  reveal(index: number): Uint8Array | undefined;
  /** The provider's claimed state hash after `step` steps, or undefined if it cannot answer. */
  claimAt(step: number): Hex32 | undefined;
}

/** A random connected-ish graph and random angles: every workload is a different computation. */
export function makeWorkload(rng: SimRandom): QaoaMaxCutInput {
  const edges: [number, number][] = [];
  for (let v = 0; v < nodes; v++) edges.push([v, (v + 1) % nodes]);
  for (let e = 0; e < 3; e++) {
    const u = rng.int(nodes);
    const v = (u + 2 + rng.int(nodes - 3)) % nodes;
    edges.push([u, v]);
  }
  const angle = () => Math.fround((rng.nextU32() % 3000) / 1000);
  return {
    graph: { nodes, edges },
    angles: { gammas: Array.from({ length: layers }, angle), betas: Array.from({ length: layers }, angle) },
  };
}

function fromStates(
  input: QaoaMaxCutInput,
  states: readonly QaoaMaxCutState[],
  stepsComputed: number,
  wrongSegments: number,
): StageRun {
  const steps = states.length - 1;
  const at = checkpointSteps(steps, checkpointEvery);
  const hashes = states.map((s, i) => checkpointHash(program, i, s));
  const checkpoints = at.map((s) => hashes[s]!);
  const out = outputHash(program, program.output(states[steps]!));
  return {
    input,
    steps,
    at,
    checkpoints,
    root: merkleRoot([...checkpoints, out]),
    stepsComputed,
    wrongSegments,
    reveal: (index) => program.encodeState(states[at[index]!]!),
    claimAt: (step) => hashes[step],
  };
}

/** The states of an honest run, s0 … sn. */
export function honestStates(input: QaoaMaxCutInput): QaoaMaxCutState[] {
  const states = [program.init(input)];
  const steps = program.stepCount(input);
  for (let i = 0; i < steps; i++) states.push(program.step(states[i]!));
  return states;
}

export function honestRun(input: QaoaMaxCutInput): StageRun {
  const states = honestStates(input);
  return fromStates(input, states, states.length - 1, 0);
}

/**
 * A cheating provider's run.
 * - `wrong-result`: computes nothing and commits made-up hashes; it has no state to reveal.
 * - `skipped-steps`: skips each segment with probability 1/2, relabelling the segment's start
 *   state as its end, and computes the rest honestly from there (each skipped segment is one
 *   wrong transition; the others re-execute correctly).
 * - `replayed-output`: commits an old honest run of another input (all of it revealable).
 */
export function cheatingRun(
  input: QaoaMaxCutInput,
  strategy: CheatStrategy,
  rng: SimRandom,
  old: StageRun,
): StageRun {
  switch (strategy) {
    case "wrong-result": {
      const steps = program.stepCount(input);
      const at = checkpointSteps(steps, checkpointEvery);
      const fake = new Map<number, Hex32>();
      const made = (): Hex32 =>
        Array.from({ length: 8 }, () => rng.nextU32().toString(16).padStart(8, "0")).join("") as Hex32;
      for (let s = 0; s <= steps; s++) fake.set(s, made());
      const checkpoints = at.map((s) => fake.get(s)!);
      return {
        input,
        steps,
        at,
        checkpoints,
        root: merkleRoot([...checkpoints, made()]),
        stepsComputed: 0,
        wrongSegments: at.length - 1,
        reveal: () => undefined,
        claimAt: (step) => fake.get(step),
      };
    }
    case "skipped-steps": {
      const steps = program.stepCount(input);
      const states = [program.init(input)];
      let computed = 0;
      let skipped = 0;
      for (let s = 0; s < steps; s += checkpointEvery) {
        const end = Math.min(s + checkpointEvery, steps);
        const skip = rng.int(2) === 0;
        if (skip) skipped++;
        for (let i = s; i < end; i++) {
          const prev = states[i]!;
          if (skip) states.push({ ...prev, step: i + 1 });
          else {
            states.push(program.step(prev));
            computed++;
          }
        }
      }
      return fromStates(input, states, computed, skipped);
    }
    case "replayed-output":
      // Every check finds it: s0 of another input is not init(input).
      return { ...old, input, stepsComputed: 0, wrongSegments: old.at.length - 1 };
    default: {
      const never: never = strategy;
      return never;
    }
  }
}

export interface SegmentCheck {
  readonly verdict: "match" | "mismatch";
  /** Why a mismatch: the provider revealed nothing, s0 is not init(input), or the segment differs. */
  readonly fault?: "no-reveal" | "bad-start" | "segment";
  /** Steps the verifier executed. */
  readonly steps: number;
  /** The verifier's own state hash at every step of the segment, for a dispute. */
  readonly mine: ReadonlyMap<number, Hex32>;
  readonly states: ReadonlyMap<number, QaoaMaxCutState>;
}

/**
 * An honest verifier's check of segment j: s0 must be init(input) (anyone can compute it), the
 * revealed state must hash to checkpoint j, and re-executing to checkpoint j + 1 must reproduce it.
 */
export function checkSegment(run: StageRun, j: number): SegmentCheck {
  const empty = { steps: 0, mine: new Map(), states: new Map() };
  if (checkpointHash(program, 0, program.init(run.input)) !== run.checkpoints[0]) {
    return { verdict: "mismatch", fault: "bad-start", ...empty };
  }
  const bytes = run.reveal(j);
  const from = run.at[j]!;
  if (bytes === undefined) return { verdict: "mismatch", fault: "no-reveal", ...empty };
  let state = program.decodeState(bytes, run.input);
  if (checkpointHash(program, from, state) !== run.checkpoints[j]) {
    return { verdict: "mismatch", fault: "no-reveal", ...empty };
  }
  const mine = new Map<number, Hex32>([[from, run.checkpoints[j]!]]);
  const states = new Map<number, QaoaMaxCutState>([[from, state]]);
  const to = run.at[j + 1]!;
  for (let s = from; s < to; s++) {
    state = runSegment(program, state, s, s + 1);
    mine.set(s + 1, checkpointHash(program, s + 1, state));
    states.set(s + 1, state);
  }
  const verdict = mine.get(to) === run.checkpoints[j + 1] ? "match" : "mismatch";
  return verdict === "match"
    ? { verdict, steps: to - from, mine, states }
    : { verdict, fault: "segment", steps: to - from, mine, states };
}

export interface DisputeResult {
  readonly outcome: DisputeOutcome;
  readonly rounds: number;
  readonly refereeSteps: number;
}

/**
 * Settles a mismatch. A missing reveal or a wrong s0 is proven without bisection (the log shows the
 * request and no valid answer by the deadline; s0 is recomputed by the referee). A segment
 * mismatch is bisected over the segment's steps, each party answering from its own claims (a
 * provider with no claim is silent), and the referee executes the isolated step.
 */
export function settleMismatch(
  run: StageRun,
  j: number,
  check: SegmentCheck,
  silentProvider = false,
): DisputeResult {
  if (check.fault !== "segment") {
    return {
      outcome: { winner: "challenger", losers: ["provider"], reason: "silence" },
      rounds: 0,
      refereeSteps: check.fault === "bad-start" ? 1 : 0,
    };
  }
  const to = run.at[j + 1]!;
  let d = openDispute({
    checkpointSteps: run.at,
    agreedIndex: j,
    agreedHash: run.checkpoints[j]!,
    disputedIndex: j + 1,
    claims: { provider: run.checkpoints[j + 1]!, challenger: check.mine.get(to)! },
    time: 0,
    roundTimeoutMs: 1_000,
  });
  let time = 0;
  let refereeSteps = 0;
  for (;;) {
    const q = disputeQuery(d);
    if (q.kind === "resolved") return { outcome: q.outcome, rounds: d.rounds, refereeSteps };
    if (q.kind === "referee") {
      const from = check.states.get(q.fromStep)!;
      refereeSteps++;
      d = refereeDispute(d, checkpointHash(program, q.fromStep + 1, program.step(from)));
      continue;
    }
    const step = q.kind === "step" ? q.step : run.at[q.index]!;
    time += 100;
    const claim = silentProvider ? undefined : run.claimAt(step);
    if (claim !== undefined) d = answerDispute(d, "provider", claim, time);
    d = answerDispute(d, "challenger", check.mine.get(step)!, time);
    if (claim === undefined) d = expireDispute(d, time + 1_001);
  }
}
