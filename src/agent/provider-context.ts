/**
 * What the parts of a running provider share: its identity and coordinator client, its blob store,
 * journal, worker pool and loop host, its counters, the signal `stop()` aborts, and where its events
 * go. Built once by `startProvider`; the assignment work, the queue and the lifecycle read it.
 */

import { join } from "node:path";
import { WebSocket } from "ws";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Identity } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import { createWorkerPool, defaultPoolSize, type WorkerPool } from "../runtime/pool.ts";
import { type Client, createClient, type FetchLike } from "../sdk/create-client.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { filesystemBlobStore } from "../store/filesystem-blob-store.ts";
import type { CheatPolicy } from "./adversary.ts";
import { openStageJournal, type StageJournal } from "./journal.ts";
import { type PathMeter, pathMeter } from "./path-meter.ts";
import type { ProviderEvent, ProviderStats, StartProviderOptions } from "./provider-types.ts";
import { type QpuLoopHost, qpuLoopHost } from "./qaoa-loop-qpu.ts";

/** The provider's own counters; `bytesServed` is the blob server's. */
export type ProviderCounters = { -readonly [K in Exclude<keyof ProviderStats, "bytesServed">]: number };

export interface ProviderContext {
  readonly identity: Identity;
  /** The node id: the identity's public key. */
  readonly me: PublicKeyHex;
  readonly client: Client;
  /** Every HTTP request of the agent goes through this (the latency emulation hook). */
  readonly fetch: FetchLike;
  readonly blobs: BlobStore;
  readonly journal: StageJournal;
  readonly pool: WorkerPool;
  /** The agent created the pool, so it closes it on stop. */
  readonly ownsPool: boolean;
  readonly loops: QpuLoopHost;
  /** Throughput each input path delivered (path-meter.ts): measured paths replace the model. */
  readonly paths: PathMeter;
  readonly checkpointEvery: number;
  /** Least time between two progress reports of a running stage. */
  readonly progressEveryMs: number;
  /** Set only on an adversarial agent (adversary.ts). */
  readonly cheat?: CheatPolicy;
  readonly counters: ProviderCounters;
  /** Aborted by `stop()`: no new work is taken, retries and loops end. */
  readonly signal: AbortSignal;
  readonly emit: (event: ProviderEvent) => void;
}

/** Opens the agent's client, blob store, journal, worker pool and loop host. */
export async function openProviderContext(
  options: StartProviderOptions,
  signal: AbortSignal,
): Promise<ProviderContext> {
  const checkpointEvery = options.checkpointEvery ?? 4;
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const client = createClient({
    url: options.coordinatorUrl,
    fetch: fetchImpl,
    WebSocket: options.WebSocket ?? WebSocket,
    ed: nodeEd25519,
  });
  const blobs = filesystemBlobStore(join(options.dataDir, "blobs"));
  const journal = await openStageJournal(join(options.dataDir, "journal"));
  const ownsPool = options.pool === undefined;
  const pool =
    options.pool ??
    createWorkerPool({
      size: options.poolSize ?? Math.max(1, Math.min(options.node.capacity, defaultPoolSize())),
    });
  return {
    identity: options.identity,
    me: options.identity.publicKey,
    client,
    fetch: fetchImpl,
    blobs,
    journal,
    pool,
    ownsPool,
    loops: qpuLoopHost({ pool, ed: nodeEd25519, checkpointEvery }),
    paths: pathMeter(),
    checkpointEvery,
    progressEveryMs: options.progressEveryMs ?? 1_000,
    ...(options.cheat === undefined ? {} : { cheat: options.cheat }),
    counters: {
      assignments: 0,
      computed: 0,
      committed: 0,
      recommitted: 0,
      bytesFetched: 0,
      loopRounds: 0,
      loopRoundTrips: 0,
      loopMs: 0,
      errors: 0,
    },
    signal,
    emit: (event) => options.onEvent?.(event),
  };
}

/** Counts an error and reports it as an `error` event, typed (`PROGRAM_FAILED` when it was not ours). */
export function reportError(ctx: ProviderContext, error: unknown, jobId?: string, stage?: string): void {
  ctx.counters.errors++;
  const typed = isSwitchyardError(error)
    ? error
    : new SwitchyardError("PROGRAM_FAILED", String(error), { cause: error });
  ctx.emit({
    type: "error",
    ...(jobId === undefined ? {} : { jobId }),
    ...(stage === undefined ? {} : { stage }),
    error: typed,
  });
}

/** The key of a (job, stage) in the journal's open work, the queue and the catch-up. */
export const stageKey = (jobId: string, stage: string): string => `${jobId}/${stage}`;
