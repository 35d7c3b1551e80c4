/**
 * One ordinary stage, as a provider executes it: fetch every input blob from the agent that holds
 * it, bind the inputs to the program's input fields, run the program in the worker pool, and store
 * the output (its canonical JSON bytes) in the BlobStore. Returns what the provider commits.
 *
 * A stage placed here after its provider vanished (assignment `resume`, docs/routing.md "Failover")
 * fetches the reported checkpoint state, checks it against the reported hash, and resumes from it in
 * the pool, in the layout the prefix was reported in; its root covers all the checkpoints. If no
 * source serves a state that hashes right, it runs from step 0 in the same layout, which gives the
 * same root when the prefix was honest.
 */
import type { PathEstimate } from "../core/routing/relay-path.ts";
import type { Assignment, InputSource } from "../protocol/api.ts";
import type { Json } from "../protocol/canonical.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Cid, Hex32 } from "../protocol/ids.ts";
import type { Checkpoint, WorkerPool } from "../runtime/pool.ts";
import { hashStateBytes, parseProgramInput, type ResumePoint } from "../runtime/program.ts";
import { bindInputs } from "../runtime/programs/bind-inputs.ts";
import { getProgram, programs } from "../runtime/programs/registry.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { runCheating } from "./adversary.ts";
import { type FetchBlobResult, fetchBlob } from "./blob-fetch.ts";
import type { StageResult } from "./journal.ts";
import { openState, type StageSeal, sealState } from "./stage-seal.ts";

export interface StageWorkOptions {
  readonly pool: WorkerPool;
  readonly blobs: BlobStore;
  readonly checkpointEvery: number;
  readonly fetch?: FetchLike | undefined;
  /** Further agents to ask for an input whose producer is unknown or unreachable. */
  readonly fallbackSources?: () => Promise<readonly string[]>;
  /** Wall-clock limit of the program run. */
  readonly timeLimitMs?: number;
  /** Each input as it arrives: fetched (and how, by which path) or found locally. */
  readonly onInput?: (
    transfer: FetchBlobResult | { readonly cid: Cid; readonly local: true },
    input: InputSource,
    path?: PathEstimate,
  ) => void;
  /** Each checkpoint as the pool takes it (progress reports). */
  readonly onCheckpoint?: (checkpoint: Checkpoint) => void;
  /** Where else to ask for a resume state: the coordinator's blob cache (`<url>/v1`). */
  readonly resumeSources?: readonly string[];
  /** How a resume went: from which source, or why the stage runs from step 0 instead. */
  readonly onResume?: (outcome: { readonly source: string } | { readonly fromScratch: string }) => void;
  /** A restricted stage's key (stage-seal.ts): checkpoint states are stored and read sealed. */
  readonly seal?: StageSeal | undefined;
  /** In a sealed job, the stage's output key: the output is stored, served and committed sealed. */
  readonly outputSeal?: StageSeal | undefined;
  /**
   * Fetches one input another way (input-path.ts: a sealed output over the chosen path, opened);
   * undefined means "fetch it directly", as for any input.
   */
  readonly fetchInput?: ((input: InputSource) => Promise<FetchedInput | undefined>) | undefined;
}

/** An input fetched by a `fetchInput` hook: its plaintext, and how it came. */
export interface FetchedInput {
  readonly bytes: Uint8Array;
  readonly report: FetchBlobResult | { readonly cid: Cid; readonly local: true };
  /** The path it took, when it was routed (direct or through a relay). */
  readonly path?: PathEstimate;
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
    const routed = await options.fetchInput?.(input);
    if (routed !== undefined) {
      options.onInput?.(routed.report, input, routed.path);
      out.push(routed.bytes);
      continue;
    }
    const cid = input.cid as Cid;
    if (await options.blobs.has(cid)) {
      try {
        out.push(await options.blobs.get(cid));
        options.onInput?.({ cid, local: true }, input);
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
    options.onInput?.(transfer, input);
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
  // A resumed stage keeps the layout its prefix was reported in: its root starts with those hashes.
  const checkpointEvery = assignment.resume?.checkpointEvery ?? options.checkpointEvery;
  const resume = await resumePoint(assignment, options);
  const t0 = performance.now();
  const run = await options.pool.run({
    program: assignment.program,
    input,
    checkpointEvery,
    keepStates: true,
    ...(resume === undefined ? {} : { resume }),
    ...(options.onCheckpoint === undefined ? {} : { onCheckpoint: options.onCheckpoint }),
    ...(options.timeLimitMs === undefined ? {} : { timeLimitMs: options.timeLimitMs }),
  });
  const computeMs = performance.now() - t0;
  const stored = await putOutput(options.blobs, options.outputSeal, run.output as Json);
  const resumedAt = resume === undefined ? 0 : resume.checkpoints.length - 1;
  const manifest = await putCheckpointManifest(options.blobs, {
    program: assignment.program,
    checkpointEvery,
    steps: run.steps,
    checkpoints: run.checkpoints,
    outputHash: run.outputHash,
    // A resumed run holds the states from its resume point on (a verifier is sent only there).
    states: resume === undefined ? (run.states ?? []) : [resume.stateBytes, ...(run.states ?? [])],
    ...(resumedAt === 0 ? {} : { statesFrom: resumedAt }),
    seal: options.seal,
  });
  return {
    root: run.root,
    output: stored.cid,
    outputBytes: stored.bytes,
    steps: run.steps,
    checkpointEvery,
    manifest,
    computeMs,
    programOutput: run.output,
  };
}

/**
 * The reported checkpoint's state, fetched from the coordinator's cache or the vanished provider and
 * checked against the reported hash; undefined (run from step 0) when no source has it right.
 */
async function resumePoint(
  assignment: Assignment,
  options: StageWorkOptions,
): Promise<ResumePoint | undefined> {
  const r = assignment.resume;
  if (r === undefined) return undefined;
  try {
    if (r.checkpoints.length !== r.index + 1 || r.checkpoints[r.index] !== r.hash) {
      throw new SwitchyardError(
        "MALFORMED",
        `the resume point lists ${r.checkpoints.length} hashes for checkpoint ${r.index}`,
      );
    }
    const sources = [...(options.resumeSources ?? []), ...r.from];
    const got = await fetchBlob({
      cid: r.state as Cid,
      sources,
      store: options.blobs,
      attempts: 2,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
    // A restricted stage's reported state is sealed; its hash is over the plaintext.
    const stateBytes = openState(options.seal, got.bytes);
    if (hashStateBytes(assignment.program, r.step, stateBytes) !== r.hash) {
      throw new SwitchyardError(
        "STATE_HASH_MISMATCH",
        `the state of checkpoint ${r.index} does not hash to the reported checkpoint`,
      );
    }
    options.onResume?.({ source: got.source });
    return { checkpoints: r.checkpoints as Hex32[], stateBytes };
  } catch (error) {
    options.onResume?.({ fromScratch: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
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
  const stored = await putOutput(options.blobs, options.outputSeal, run.output as Json);
  const manifest = await putCheckpointManifest(options.blobs, {
    program: assignment.program,
    checkpointEvery: options.checkpointEvery,
    ...run,
    seal: options.seal,
  });
  return {
    root: run.root,
    output: stored.cid,
    outputBytes: stored.bytes,
    steps: run.steps,
    checkpointEvery: options.checkpointEvery,
    manifest,
    computeMs,
    programOutput: run.output,
  };
}

/**
 * Stores a stage's output: its canonical JSON bytes, or in a sealed job only those bytes sealed under
 * the stage's output key — an agent's blob server serves any cid it holds, and a relay forwards
 * only sealed bytes. Returns the cid the commitment names; the root covers the plaintext's hash.
 */
export async function putOutput(
  blobs: BlobStore,
  seal: StageSeal | undefined,
  output: Json,
): Promise<{ readonly cid: Cid; readonly bytes: number }> {
  const bytes = sealState(seal, canonicalBytes(output));
  return { cid: await blobs.put(bytes), bytes: bytes.length };
}

/**
 * Stores each checkpoint state as a blob and, as one more blob, the manifest a verifier reads:
 * the checkpoint hashes, the output hash (together the leaves of the committed root) and the
 * content id of each state. Returns the manifest's content id, which the commitment names.
 *
 * With a `seal` (a restricted stage) each state is stored sealed under the stage key and the manifest
 * says `sealed: true`: the hashes are public (they are committed anyway), the states are not.
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
    /** The checkpoint of `states[0]`, when the run holds only the later states (a resumed run). */
    readonly statesFrom?: number;
    readonly seal?: StageSeal | undefined;
  },
): Promise<Cid> {
  const states: Cid[] = [];
  for (const bytes of run.states) states.push(await blobs.put(sealState(run.seal, bytes)));
  return blobs.put(
    canonicalBytes({
      program: run.program,
      checkpointEvery: run.checkpointEvery,
      steps: run.steps,
      checkpoints: [...run.checkpoints],
      outputHash: run.outputHash,
      states,
      ...(run.statesFrom === undefined ? {} : { statesFrom: run.statesFrom }),
      ...(run.seal === undefined ? {} : { sealed: true }),
    }),
  );
}
