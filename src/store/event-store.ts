/**
 * The EventStore port: where the sequencer's append-only, hash-chained log lives. Three adapters
 * implement it — memory, embedded PGlite and PostgreSQL — and all pass the one conformance suite in
 * `event-store.conformance.ts`.
 *
 * Events are stored in their canonical JSON form (`encodeLogEvent` + RFC 8785) next to their seq,
 * hash and prev. The network id needed to decode signed messages is learned from the genesis event
 * (seq 0) and recorded by the store in the same transaction, so a data directory or schema is
 * self-describing: nobody has to pass the right `net` to reopen it.
 */
import type { Hex32 } from "../protocol/ids.ts";
import type { StoredEvent } from "../protocol/log.ts";

/** The last event of the log: what the next append must continue. */
export interface LogHead {
  readonly seq: number;
  readonly hash: Hex32;
}

/** A snapshot as the caller hands it over: the encoded state after applying event `seq`. */
export interface SnapshotInput {
  readonly seq: number;
  /** `stateHash(state)` of the core, checked by recovery after decoding `state`. */
  readonly stateHash: Hex32;
  readonly state: Uint8Array;
}

/**
 * A stored snapshot. `eventHash` is the hash of event `seq`, copied by the store when the snapshot
 * is put, so recovery can verify the events after the snapshot without reading the ones before it:
 *
 * ```ts
 * const snap = await store.latestSnapshot();
 * let state = snap ? decodeState(snap.state) : createState();
 * if (snap && stateHash(state) !== snap.stateHash) throw new SwitchyardError("STATE_HASH_MISMATCH", ...);
 * const events = [];
 * for await (const e of store.read(snap ? snap.seq + 1 : 0)) events.push(e);
 * verifyChain(events, snap?.eventHash ?? genesisPrev, snap?.seq ?? -1);
 * for (const e of events) state = apply(state, e).state;
 * ```
 */
export interface Snapshot extends SnapshotInput {
  readonly eventHash: Hex32;
}

export interface EventStore {
  /** Which adapter this is (`memory`, `pglite`, `postgres`), for logs and metrics labels. */
  readonly kind: string;
  /** Connect and apply pending migrations. Other methods throw STORE_UNAVAILABLE until it resolves. */
  open(): Promise<void>;
  /**
   * Append events that continue the log. Resolves only once they are durable (see docs/store.md for
   * what durable means per adapter). Concurrent calls are group-committed: calls made while a commit
   * is in flight share the next transaction, in call order.
   *
   * Throws CHAIN_BROKEN and writes nothing of this call when its first event is not head + 1, any
   * `prev` is not its predecessor's hash, a `hash` is not `hashLogEvent` of its event, event 0 is not
   * a genesis, or another writer appended the same seq first. STORE_UNAVAILABLE when the database
   * fails.
   */
  append(events: readonly StoredEvent[]): Promise<void>;
  /**
   * Events with seq ≥ `fromSeq`, in order, at most `limit` of them. The stored hash is returned as
   * read; verify with `verifyChain`. A row that cannot be decoded, or whose seq/prev columns disagree
   * with its JSON, throws CHAIN_BROKEN naming the seq.
   */
  read(fromSeq: number, limit?: number): AsyncIterable<StoredEvent>;
  /** The last event, or null when the log is empty. */
  head(): Promise<LogHead | null>;
  /** The network id from the genesis event, or null before genesis has been appended. */
  net(): Promise<string | null>;
  /**
   * Record a snapshot of the state after event `snapshot.seq`. NOT_FOUND when that event is not in
   * the log. Putting the same snapshot twice is a no-op; a different state hash at the same seq is a
   * determinism failure and throws STATE_HASH_MISMATCH.
   */
  putSnapshot(snapshot: SnapshotInput): Promise<void>;
  /** The snapshot with the highest seq, or null. */
  latestSnapshot(): Promise<Snapshot | null>;
  /** Wait for appends in flight, then release the database. */
  close(): Promise<void>;
}

/** Options every adapter accepts. */
export interface EventStoreOptions {
  /**
   * Most events one group commit writes (default 4096). A call is never split, so a larger call
   * commits alone. Set to 1 to disable batching — one call per transaction — which is the baseline
   * the append benchmark compares group commit against.
   */
  readonly maxBatchEvents?: number;
}
