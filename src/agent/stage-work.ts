/**
 * One ordinary stage, as a provider executes it: fetch every input blob from the agent that holds
 * it, bind the inputs to the program's input fields, run the program in the worker pool, and store
 * the output (its canonical JSON bytes) in the BlobStore. Returns what the provider commits.
 */
import type { Assignment } from "../protocol/api.ts";
import type { Json } from "../protocol/canonical.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import type { Cid, Hex32 } from "../protocol/ids.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import { parseProgramInput } from "../runtime/program.ts";
import { bindInputs } from "../runtime/programs/bind-inputs.ts";
import { getProgram, programs } from "../runtime/programs/registry.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { runCheating } from "./adversary.ts";
import { type FetchBlobResult, fetchBlob } from "./blob-fetch.ts";
import type { StageResult } from "./journal.ts";

export interface StageWorkOptions {
  readonly pool: WorkerPool;
  readonly blobs: BlobStore;
  readonly checkpointEvery: number;
  readonly fetch?: FetchLike | undefined;
  /** Further agents to ask for an input whose producer is unknown or unreachable. */
  readonly fallbackSources?: () => Promise<readonly string[]>;
  /** Wall-clock limit of the program run. */
  readonly timeLimitMs?: number;
  readonly onInput?: (transfer: FetchBlobResult | { readonly cid: Cid; readonly local: true }) => void;
}

export interface StageWorkResult extends StageResult {
  readonly output: Cid;
  readonly root: Hex32;
  readonly checkpointEvery: number;
  readonly manifest: Cid;
  readonly computeMs: number;
  readonly programOutput: unknown;
}

/**
 * Fetches the stage's inputs that are not already local.
 *
 * ```ts
 * const inputs = await fetchInputs(assignment, { pool, blobs, checkpointEvery: 4 });
 * ```
 */
export async function fetchInputs(assignment: Assignment, options: StageWorkOptions): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const input of assignment.inputs) {
    const cid = input.cid as Cid;
    if (await options.blobs.has(cid)) {
      try {
        out.push(await options.blobs.get(cid));
        options.onInput?.({ cid, local: true });
        continue;
      } catch {
        // A rotten local copy: fetch it again below, which also repairs the store.
      }
    }
    const fallback = (await options.fallbackSources?.()) ?? [];
    const sources = [
      ...(input.from === undefined ? [] : [input.from]),
      ...fallback.filter((s) => s !== input.from),
    ];
    const transfer = await fetchBlob({
      cid,
      sources,
      store: options.blobs,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
    options.onInput?.(transfer);
    out.push(transfer.bytes);
  }
  return out;
}

/**
 * Runs an ordinary stage end to end and stores its output.
 *
 * ```ts
 * const { root, output, steps } = await runStage(assignment, { pool, blobs, checkpointEvery: 4 });
 * ```
 */
export async function runStage(assignment: Assignment, options: StageWorkOptions): Promise<StageWorkResult> {
  const inputs = await fetchInputs(assignment, options);
  const input = bindInputs(assignment.program, assignment.params, inputs);
  const t0 = performance.now();
  const run = await options.pool.run({
    program: assignment.program,
    input,
    checkpointEvery: options.checkpointEvery,
    keepStates: true,
    ...(options.timeLimitMs === undefined ? {} : { timeLimitMs: options.timeLimitMs }),
  });
  const computeMs = performance.now() - t0;
  const output = await options.blobs.put(canonicalBytes(run.output));
  const manifest = await putCheckpointManifest(options.blobs, {
    program: assignment.program,
    checkpointEvery: options.checkpointEvery,
    steps: run.steps,
    checkpoints: run.checkpoints,
    outputHash: run.outputHash,
    states: run.states ?? [],
  });
  return {
    root: run.root,
    output,
    steps: run.steps,
    checkpointEvery: options.checkpointEvery,
    manifest,
    computeMs,
    programOutput: run.output,
  };
}

/**
 * The adversarial agent's stage (adversary.ts): the same inputs and outputs as runStage, computed
 * in-process with a corrupted step in every segment.
 */
export async function runCheatingStage(
  assignment: Assignment,
  options: StageWorkOptions,
): Promise<StageWorkResult> {
  const inputs = await fetchInputs(assignment, options);
  const program = getProgram(programs, assignment.program);
  const input = parseProgramInput(program, bindInputs(assignment.program, assignment.params, inputs));
  const t0 = performance.now();
  const run = runCheating(program, input, options.checkpointEvery);
  const computeMs = performance.now() - t0;
  const output = await options.blobs.put(canonicalBytes(run.output as Json));
  const manifest = await putCheckpointManifest(options.blobs, {
    program: assignment.program,
    checkpointEvery: options.checkpointEvery,
    ...run,
  });
  return {
    root: run.root,
    output,
    steps: run.steps,
    checkpointEvery: options.checkpointEvery,
    manifest,
    computeMs,
    programOutput: run.output,
  };
}

/**
 * Stores each checkpoint state as a blob and, as one more blob, the manifest a verifier reads:
 * the checkpoint hashes, the output hash (together the leaves of the committed root) and the
 * content id of each state. Returns the manifest's content id, which the commitment names.
 */
export async function putCheckpointManifest(
  blobs: BlobStore,
  run: {
    readonly program: string;
    readonly checkpointEvery: number;
    readonly steps: number;
    readonly checkpoints: readonly Hex32[];
    readonly outputHash: Hex32;
    readonly states: readonly Uint8Array[];
  },
): Promise<Cid> {
  const states: Cid[] = [];
  for (const bytes of run.states) states.push(await blobs.put(bytes));
  return blobs.put(
    canonicalBytes({
      program: run.program,
      checkpointEvery: run.checkpointEvery,
      steps: run.steps,
      checkpoints: [...run.checkpoints],
      outputHash: run.outputHash,
      states,
    }),
  );
}
