/**
 * One ordinary stage, as a provider executes it: fetch every input blob from the agent that holds
 * it, bind the inputs to the program's input fields, run the program in the worker pool, and store
 * the output (its canonical JSON bytes) in the BlobStore. Returns what the provider commits.
 */
import type { Assignment } from "../protocol/api.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import type { Cid, Hex32 } from "../protocol/ids.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import { bindInputs } from "../runtime/programs/bind-inputs.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import type { BlobStore } from "../store/blob-store.ts";
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
    ...(options.timeLimitMs === undefined ? {} : { timeLimitMs: options.timeLimitMs }),
  });
  const computeMs = performance.now() - t0;
  const output = await options.blobs.put(canonicalBytes(run.output));
  return { root: run.root, output, steps: run.steps, computeMs, programOutput: run.output };
}
