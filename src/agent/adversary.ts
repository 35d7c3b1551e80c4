/**
 * A cheating provider, for `switchyard demo --cheat` and tests (issue 4's adversarial agents): it
 * runs the program itself and corrupts the state right after the first step of every checkpoint
 * segment — a wrong result that is then carried forward consistently, so its checkpoints, output
 * and dispute answers all agree with each other and only re-execution shows them wrong. Whatever
 * segment the beacon picks contains a corrupted step, so a spot check of it always finds one.
 *
 * Never used by an honest agent: it is only reachable through the `cheat` option.
 */
import type { Hex32 } from "../protocol/ids.ts";
import { merkleRoot } from "../protocol/merkle.ts";
import { type AnyStepProgram, checkpointHash, checkpointSteps, outputHash } from "../runtime/program.ts";

/** How the agent cheats. `wrong-step`: a corrupted state after the first step of every segment. */
export interface CheatPolicy {
  readonly kind: "wrong-step";
}

/** True when a cheater corrupts the state produced by step `step` (1-based). */
export function corruptsStep(step: number, checkpointEvery: number): boolean {
  return step % checkpointEvery === 1 || checkpointEvery === 1;
}

/**
 * The state with the top mantissa bit of its last encoded number flipped (little-endian float32:
 * the byte before the exponent), which decodes like any other state. The change is large enough to
 * survive later steps' rounding: a flipped lowest bit can be rounded away within a few steps, and
 * then the "cheat" would be an honest result.
 */
export function corrupt(program: AnyStepProgram, state: unknown, input: unknown): unknown {
  const bytes = program.encodeState(state).slice();
  const at = Math.max(0, bytes.length - 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0x40;
  return program.decodeState(bytes, input);
}

/** One step as the cheater takes it: honest, then corrupted where the policy says. */
export function cheatStep(
  program: AnyStepProgram,
  state: unknown,
  input: unknown,
  step: number,
  checkpointEvery: number,
): unknown {
  const next = program.step(state);
  return corruptsStep(step, checkpointEvery) ? corrupt(program, next, input) : next;
}

export interface CheatRun {
  readonly checkpoints: Hex32[];
  readonly states: Uint8Array[];
  readonly output: unknown;
  readonly outputHash: Hex32;
  readonly root: Hex32;
  readonly steps: number;
}

/** The cheater's whole run, shaped like an honest one (runtime/program.ts RunResult). */
export function runCheating(program: AnyStepProgram, input: unknown, checkpointEvery: number): CheatRun {
  const steps = program.stepCount(input);
  const at = new Set(checkpointSteps(steps, checkpointEvery));
  let state = program.init(input);
  const checkpoints: Hex32[] = [checkpointHash(program, 0, state)];
  const states: Uint8Array[] = [program.encodeState(state)];
  for (let s = 1; s <= steps; s++) {
    state = cheatStep(program, state, input, s, checkpointEvery);
    if (at.has(s)) {
      checkpoints.push(checkpointHash(program, s, state));
      states.push(program.encodeState(state));
    }
  }
  const output = program.output(state);
  const out = outputHash(program, output);
  return { checkpoints, states, output, outputHash: out, root: merkleRoot([...checkpoints, out]), steps };
}
