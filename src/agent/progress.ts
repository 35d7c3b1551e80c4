/**
 * Progress of a running stage, for failover (docs/agent.md, "Progress and failover"). As the worker
 * pool takes checkpoints, the agent mirrors the latest checkpoint state to its coordinator's blob
 * cache (PUT /v1/blobs/:cid) and then signs `reportProgress` with the hashes of the checkpoints
 * since its last report — at most one report every `everyMs`, the newest checkpoint each time (a
 * trailing report is scheduled for the last one seen). If this agent then vanishes, the stage
 * resumes elsewhere from the reported checkpoint instead of from step 0.
 *
 * A report that fails does not fail the stage: its hashes go into the next one. A refusal that says
 * the stage moved on (or the stage holds as many checkpoints as it may) ends the reporting.
 */
import { apiPaths } from "../protocol/api.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import { contentId } from "../protocol/hash.ts";
import type { Hex32 } from "../protocol/ids.ts";
import type { Checkpoint } from "../runtime/pool.ts";
import { signAndSubmit } from "../sdk/index.ts";
import type { ProviderContext } from "./provider-context.ts";
import { reportError } from "./provider-context.ts";
import { type StageSeal, sealState } from "./stage-seal.ts";

export interface ProgressReporterOptions {
  readonly jobId: string;
  readonly stage: string;
  readonly checkpointEvery: number;
  /** The checkpoint the coordinator already knows for this stage (the resume point), or -1. */
  readonly after: number;
  /** Least time between two reports (default 1,000 ms). */
  readonly everyMs?: number;
  /** A restricted stage's key: the mirrored state is sealed (the coordinator holds ciphertext). */
  readonly seal?: StageSeal | undefined;
}

export interface ProgressReporter {
  /** Give it every checkpoint of the run, in order (the pool's onCheckpoint). */
  onCheckpoint(checkpoint: Checkpoint): void;
  /** No more reports: cancels a scheduled one and waits for one in flight (call before committing). */
  close(): Promise<void>;
  /** Reports the coordinator acknowledged. */
  reports(): number;
}

/**
 * Reports a stage's progress while it runs.
 *
 * @example
 * const reporter = progressReporter(ctx, { jobId, stage, checkpointEvery: 4, after: -1 });
 * const run = await ctx.pool.run({ ...job, onCheckpoint: reporter.onCheckpoint });
 * await reporter.close();
 */
export function progressReporter(ctx: ProviderContext, options: ProgressReporterOptions): ProgressReporter {
  const everyMs = options.everyMs ?? 1_000;
  /** Hashes of checkpoints lastReported+1 … latest.index, in order. */
  const pending: Hex32[] = [];
  let lastReported = options.after;
  let latest: Checkpoint | undefined;
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;
  let acknowledged = 0;

  const schedule = (): void => {
    if (stopped || inFlight !== undefined || timer !== undefined) return;
    if (latest === undefined || latest.index <= lastReported) return;
    const wait = lastSentAt + everyMs - Date.now();
    if (wait > 0) {
      timer = setTimeout(() => {
        timer = undefined;
        schedule();
      }, wait);
      timer.unref();
      return;
    }
    lastSentAt = Date.now();
    inFlight = send(latest).finally(() => {
      inFlight = undefined;
      schedule();
    });
  };

  const send = async (c: Checkpoint): Promise<void> => {
    const hashes = pending.splice(0, c.index - lastReported);
    try {
      const bytes = sealState(options.seal, c.state);
      const state = contentId(bytes);
      await ctx.blobs.put(bytes);
      await mirror(ctx, state, bytes);
      await signAndSubmit(ctx.client, {
        identity: ctx.identity,
        type: "reportProgress",
        body: {
          jobId: options.jobId,
          stage: options.stage,
          index: c.index,
          step: c.step,
          steps: c.steps,
          checkpointEvery: options.checkpointEvery,
          checkpoints: hashes,
          state,
        },
      });
      lastReported = c.index;
      acknowledged++;
      ctx.emit({
        type: "progress",
        jobId: options.jobId,
        stage: options.stage,
        index: c.index,
        step: c.step,
        steps: c.steps,
      });
    } catch (error) {
      pending.unshift(...hashes);
      // The stage moved on without us, or holds all the checkpoints it may: nothing more to say.
      if (
        isSwitchyardError(error, "ILLEGAL_TRANSITION") ||
        isSwitchyardError(error, "NOT_AUTHORIZED") ||
        isSwitchyardError(error, "TOO_LARGE")
      ) {
        stopped = true;
      }
      if (!isSwitchyardError(error, "UNREACHABLE") && !ctx.signal.aborted)
        reportError(ctx, error, options.jobId, options.stage);
    }
  };

  return {
    onCheckpoint(c) {
      if (stopped || c.index <= options.after) return;
      pending.push(c.hash);
      latest = c;
      schedule();
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
    reports: () => acknowledged,
  };
}

/** PUT the state into the coordinator's blob cache, so it outlives this agent. */
export async function mirror(ctx: ProviderContext, cid: string, bytes: Uint8Array): Promise<void> {
  const url = ctx.client.url + apiPaths.blob.replace(":cid", cid);
  let response: Response;
  try {
    response = await ctx.fetch(url, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (cause) {
    throw new SwitchyardError("UNREACHABLE", `mirroring checkpoint state to ${url} failed`, { cause });
  }
  if (!response.ok) {
    const text = await response.text();
    // Too large for the cache will not change; anything else may.
    throw new SwitchyardError(
      response.status === 413 ? "TOO_LARGE" : "STORE_UNAVAILABLE",
      `the coordinator refused the checkpoint state: ${response.status} ${text.slice(0, 200)}`,
    );
  }
  await response.arrayBuffer().catch(() => undefined);
}
