/**
 * Options of `startCoordinator` and their defaults, with the reason for each limit.
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type { Logger } from "pino";
import type { Identity } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Params } from "../protocol/params.ts";
import type { EventStore } from "../store/event-store.ts";
import { memoryEventStore } from "../store/memory-event-store.ts";
import { pgliteEventStore } from "../store/pglite-event-store.ts";
import { postgresEventStore } from "../store/postgres-event-store.ts";
import type { BlobCacheLimits } from "./blob-cache.ts";
import type { Emulation } from "./stream.ts";

export interface CoordinatorLimits {
  /** Largest HTTP body and WebSocket frame, in bytes (default 1 MiB: a 64-stage job is ~100 KiB). */
  readonly maxBodyBytes?: number;
  /** Deepest JSON nesting (default 32: the deepest honest message nests about 8 levels). */
  readonly maxDepth?: number;
  /** Open TCP connections; more are refused at accept (default 4096). */
  readonly maxConnections?: number;
  /** Time to receive a request's headers (default 10 s); a slow sender is answered 408 and closed. */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request (default 30 s), however slowly its bytes trickle in. */
  readonly requestTimeoutMs?: number;
  /** Idle time before a kept-alive connection is closed (default 5 s). */
  readonly keepAliveTimeoutMs?: number;
  /** /v1/stream clients (default 1024). */
  readonly maxStreamClients?: number;
  /** Heartbeat interval of /v1/stream (default 15 s); a client silent for two is dropped. */
  readonly pingIntervalMs?: number;
  /** Bytes queued for a stream client before it is dropped as too slow (default 8 MiB). */
  readonly maxBufferedBytes?: number;
  /** Submissions awaiting receipts per stream client (default 1024). */
  readonly maxInFlightPerStream?: number;
  /** Bad frames before a stream client is disconnected (default 16). */
  readonly maxBadFrames?: number;
  /**
   * Messages admitted and not yet answered (verifying, queued, or being appended) beyond which new
   * ones are refused with STORE_UNAVAILABLE, `details.reason: "overloaded"` (default 65,536: about
   * ten seconds of work at full speed, and a bound on the memory a flood can take).
   */
  readonly maxPendingMessages?: number;
}

export interface CoordinatorOptions {
  /**
   * The event log: an EventStore (the coordinator opens it and closes it on stop), or a spec —
   * `memory`, a `postgres://` URL, or a directory for an embedded PGlite database.
   */
  readonly store: EventStore | string;
  /** The coordinator's identity: it signs receipts. */
  readonly identity: Identity;
  /** Network id of a new log's genesis (default "dev"). An existing log keeps its own. */
  readonly net?: string;
  /** Parameters of a new log's genesis, over the defaults. An existing log keeps its own. */
  readonly params?: Partial<Params>;
  /** Whether a new log's network has the faucet (default false). */
  readonly devFaucet?: boolean;
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 7300; 0 picks a free one — read it from `Coordinator.url`). */
  readonly port?: number;
  /** How often to check whether a tick is due (default 1000 ms). */
  readonly tickIntervalMs?: number;
  /**
   * Snapshot every this many events (default 50,000; 0: only when stopping). A snapshot stalls
   * sequencing while the state is encoded; a restart replays at most this many events.
   */
  readonly snapshotEvery?: number;
  /** Signature-verification worker threads (default: cores − 1, at least 1; 0 verifies inline). */
  readonly verifierThreads?: number;
  readonly limits?: CoordinatorLimits;
  /** A pino logger (default: pino at info level). Pass `pino({ level: "silent" })` in tests. */
  readonly logger?: Logger;
  /** Delays pushes to providers by an emulated one-way latency (labelled emulated by the caller). */
  readonly emulation?: Emulation;
  /** Wall clock in ms since the epoch (default Date.now). */
  readonly clock?: () => number;
  /** Limits of the blob cache where providers mirror checkpoint states (blob-cache.ts). */
  readonly blobCache?: BlobCacheLimits;
}

export type ResolvedLimits = Required<CoordinatorLimits>;

export const defaultLimits: ResolvedLimits = {
  maxBodyBytes: 1 << 20,
  maxDepth: 32,
  maxConnections: 4096,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxStreamClients: 1024,
  pingIntervalMs: 15_000,
  maxBufferedBytes: 8 << 20,
  maxInFlightPerStream: 1024,
  maxBadFrames: 16,
  maxPendingMessages: 65_536,
};

export function resolveLimits(limits: CoordinatorLimits = {}): ResolvedLimits {
  const out = { ...defaultLimits, ...limits };
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new SwitchyardError("MALFORMED", `limit ${name} must be a positive integer, got ${value}`);
    }
  }
  // Node refuses a headers timeout longer than the request timeout; say which option to change.
  if (out.headersTimeoutMs > out.requestTimeoutMs) {
    throw new SwitchyardError("MALFORMED", "headersTimeoutMs must not exceed requestTimeoutMs");
  }
  return out;
}

export function defaultVerifierThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * An EventStore from a spec: `memory`, a `postgres://` (or `postgresql://`) URL, or a directory
 * for PGlite.
 */
export function eventStoreOf(spec: EventStore | string): EventStore {
  if (typeof spec !== "string") return spec;
  if (/^postgres(ql)?:\/\//.test(spec)) return postgresEventStore({ url: spec });
  if (spec === "memory") return memoryEventStore();
  return pgliteEventStore({ dataDir: resolve(spec) });
}
