/**
 * The step-program model of verifiable work (DESIGN.md §4): `init(input) → s0`,
 * `step(s_i) → s_{i+1}` a declared number of times, `output(s_n)`. The runner hashes the encoded
 * state at fixed checkpoints and commits to them, plus the output hash, with one Merkle root. A
 * verifier re-executes one segment between two checkpoints from the earlier checkpoint's state
 * (runSegment), and a referee in a dispute executes a single step; both compare checkpoint hashes.
 *
 * Checkpoint j is the state after step min(j·k, n) for k = checkpointEvery, so the list always
 * starts with s0 (anyone holding the input can check it) and ends with s_n.
 */
import type { z } from "zod";
import { concatBytes } from "../protocol/bytes.ts";
import { checkpointSteps } from "../protocol/checkpoints.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import { taggedHash } from "../protocol/hash.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { merkleRoot } from "../protocol/merkle.ts";

export { checkpointSteps };

/**
 * A deterministic program over an explicit state. Methods (not function properties) on purpose:
 * their parameters are bivariant, so any StepProgram<I, S, O> fits the registry's erased type.
 */
export interface StepProgram<Input, State, Output> {
  /** Stable id; part of every checkpoint and output hash, so two programs never share a root. */
  readonly id: string;
  /** Validates a job's parameters; the parsed value is the program's input. */
  readonly inputSchema: z.ZodType<Input>;
  /** How many steps a run of this input takes, known before it starts. */
  stepCount(input: Input): number;
  init(input: Input): State;
  /** s_{i+1} from s_i. Must not mutate its argument: checkpoints and resumes keep old states. */
  step(state: State): State;
  output(state: State): Output;
  /** Canonical bytes of a state; equal states give equal bytes on every machine. */
  encodeState(state: State): Uint8Array;
  /** The state whose encoding is `bytes`, re-attached to what `input` determines (data sets). */
  decodeState(bytes: Uint8Array, input: Input): State;
  /** Canonical bytes of an output, the preimage of the output hash. */
  encodeOutput(output: Output): Uint8Array;
}

/** A program with its types erased, as stored in a registry and run by id. */
export type AnyStepProgram = StepProgram<unknown, unknown, unknown>;

export interface RunOptions {
  /** Hash the state every this many steps (and at the end). */
  readonly checkpointEvery: number;
  /** Called with each checkpoint's step, encoded state and hash, e.g. to keep them for spot checks. */
  readonly onCheckpoint?: (step: number, stateBytes: Uint8Array, hash: Hex32) => void;
}

export interface RunResult<Output> {
  /** Hashes of the states at steps 0, k, 2k, …, n (see checkpointSteps). */
  readonly checkpoints: Hex32[];
  readonly outputHash: Hex32;
  readonly output: Output;
  /** merkleRoot([...checkpoints, outputHash]): the one value a provider commits to. */
  readonly root: Hex32;
  /** Steps executed: the program's declared step count. */
  readonly steps: number;
  /** Encoded state of each checkpoint, when the run was asked to keep them (pool keepStates). */
  readonly states?: readonly Uint8Array[];
}

function checkCount(value: number, what: string, program: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new SwitchyardError("PROGRAM_FAILED", `${what} must be a non-negative integer, got ${value}`, {
      details: { program, [what]: value },
    });
  }
}

/** The checkpoint hash of `state` after `step` steps of `program`. */
export function checkpointHash<S>(program: StepProgram<unknown, S, unknown>, step: number, state: S): Hex32 {
  return hashStateBytes(program.id, step, program.encodeState(state));
}

export function hashStateBytes(programId: string, step: number, stateBytes: Uint8Array): Hex32 {
  const position = new Uint8Array(8);
  new DataView(position.buffer).setBigUint64(0, BigInt(step));
  return taggedHash(`checkpoint/${programId}`, concatBytes(position, stateBytes));
}

/** The hash of an output, bound to its program. */
export function outputHash<O>(program: StepProgram<unknown, unknown, O>, output: O): Hex32 {
  return taggedHash(`output/${program.id}`, program.encodeOutput(output));
}

/**
 * Runs `fn`, turning anything but a SwitchyardError into PROGRAM_FAILED with the program and step,
 * so a bug inside a program surfaces as a typed error the agent can report, not a crash.
 */
function guarded<T>(programId: string, step: number, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (isSwitchyardError(cause)) throw cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new SwitchyardError("PROGRAM_FAILED", `program ${programId} failed at step ${step}: ${message}`, {
      details: { program: programId, step },
      cause,
    });
  }
}

/** Parses raw job parameters with the program's schema; MALFORMED names the first problem. */
export function parseProgramInput<I>(program: StepProgram<I, unknown, unknown>, raw: unknown): I {
  const parsed = program.inputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? "" : ` at ${issue.path.join(".") || "(root)"}: ${issue.message}`;
    throw new SwitchyardError("MALFORMED", `invalid input for program ${program.id}${where}`, {
      details: { program: program.id, issues: parsed.error.issues.length },
    });
  }
  return parsed.data;
}

/**
 * Advances `state`, the state after `fromStep` steps, to the state after `toStep` steps. Spot
 * checks resume from a checkpoint with this and compare the checkpoint hash at `toStep`.
 */
export function runSegment<S>(
  program: StepProgram<unknown, S, unknown>,
  state: S,
  fromStep: number,
  toStep: number,
): S {
  checkCount(fromStep, "fromStep", program.id);
  checkCount(toStep, "toStep", program.id);
  if (toStep < fromStep) {
    throw new SwitchyardError("MALFORMED", `segment runs backwards: step ${fromStep} to ${toStep}`, {
      details: { program: program.id, fromStep, toStep },
    });
  }
  let s = state;
  for (let i = fromStep; i < toStep; i++) {
    const current = s;
    s = guarded(program.id, i, () => program.step(current));
  }
  return s;
}

/** Where a resumed run picks up: the checkpoint hashes taken so far and the last one's state. */
export interface ResumePoint {
  /** Hashes of checkpoints 0 … j, as a run returned them or onCheckpoint saw them. */
  readonly checkpoints: readonly Hex32[];
  /** Encoded state of checkpoint j; must hash to checkpoints[j]. */
  readonly stateBytes: Uint8Array;
}

/** Executes every step of `program` on `input`, with checkpoints, output hash and root. */
export function runProgram<I, S, O>(
  program: StepProgram<I, S, O>,
  input: I,
  options: RunOptions,
): RunResult<O> {
  const state = guarded(program.id, 0, () => program.init(input));
  return continueRun(program, input, options, state, []);
}

/**
 * Finishes a run from a saved checkpoint, e.g. after a provider restarts. The result equals that of
 * an uninterrupted run. STATE_HASH_MISMATCH if the state is not the one its checkpoint hash names.
 */
export function resumeProgram<I, S, O>(
  program: StepProgram<I, S, O>,
  input: I,
  options: RunOptions,
  from: ResumePoint,
): RunResult<O> {
  const at = checkpointSteps(declaredSteps(program, input), options.checkpointEvery);
  const j = from.checkpoints.length - 1;
  const step = at[j];
  if (step === undefined || j < 0) {
    throw new SwitchyardError("MALFORMED", `a run of ${at.length} checkpoints has no checkpoint ${j}`, {
      details: { program: program.id, checkpoint: j },
    });
  }
  if (hashStateBytes(program.id, step, from.stateBytes) !== from.checkpoints[j]) {
    throw new SwitchyardError(
      "STATE_HASH_MISMATCH",
      `state does not hash to checkpoint ${j} of ${program.id}`,
      {
        details: { program: program.id, checkpoint: j, step },
      },
    );
  }
  const state = guarded(program.id, step, () => program.decodeState(from.stateBytes, input));
  return continueRun(program, input, options, state, from.checkpoints);
}

function declaredSteps<I>(program: StepProgram<I, unknown, unknown>, input: I): number {
  const steps = guarded(program.id, 0, () => program.stepCount(input));
  checkCount(steps, "steps", program.id);
  return steps;
}

/** Runs from the state of checkpoint `taken.length − 1` (or from s0 when none is taken) to the end. */
function continueRun<I, S, O>(
  program: StepProgram<I, S, O>,
  input: I,
  options: RunOptions,
  from: S,
  taken: readonly Hex32[],
): RunResult<O> {
  const steps = declaredSteps(program, input);
  const at = checkpointSteps(steps, options.checkpointEvery);
  const checkpoints = [...taken];
  let state = from;
  let done = taken.length === 0 ? 0 : at[taken.length - 1]!;
  for (const step of at.slice(taken.length)) {
    state = runSegment(program, state, done, step);
    done = step;
    const current = state;
    const bytes = guarded(program.id, step, () => program.encodeState(current));
    const hash = hashStateBytes(program.id, step, bytes);
    options.onCheckpoint?.(step, bytes, hash);
    checkpoints.push(hash);
  }
  const final = state;
  const output = guarded(program.id, steps, () => program.output(final));
  const outHash = guarded(program.id, steps, () => outputHash(program, output));
  return { checkpoints, outputHash: outHash, output, root: merkleRoot([...checkpoints, outHash]), steps };
}
