/**
 * The in-memory EventStore, for tests and the simulator. It stores the same rows as the SQL
 * adapters (canonical JSON beside seq, hash and prev) and decodes them on read, so it behaves like
 * them down to what a corrupted row does. Its "disk" is a separate object the caller may keep: a
 * new store over the same MemoryDisk is a restart that lost nothing.
 */
import type { StoredEvent } from "../protocol/log.ts";
import { checkReadRange, conflictingSnapshot, snapshotOfMissingEvent, storeNotOpen } from "./errors.ts";
import { decodeEventRow, type EventRow } from "./event-rows.ts";
import type { EventStore, EventStoreOptions, LogHead, Snapshot, SnapshotInput } from "./event-store.ts";
import { GroupCommit } from "./group-commit.ts";

/** What a memory store keeps. Row i holds event seq i; tests may edit rows to simulate corruption. */
export class MemoryDisk {
  readonly rows: EventRow[] = [];
  net: string | null = null;
  /** Snapshots by seq. */
  readonly snapshots = new Map<number, Snapshot>();
}

export interface MemoryEventStoreOptions extends EventStoreOptions {
  /** Storage to use; a fresh one by default. */
  readonly disk?: MemoryDisk;
}

/**
 * An event store in memory. Durable only as long as the process (or the MemoryDisk) lives.
 *
 * ```ts
 * const disk = new MemoryDisk();
 * const store = memoryEventStore({ disk });
 * await store.open();
 * ```
 */
export function memoryEventStore(options: MemoryEventStoreOptions = {}): EventStore {
  return new MemoryEventStore(options.disk ?? new MemoryDisk(), options);
}

class MemoryEventStore implements EventStore {
  readonly kind = "memory";
  readonly #disk: MemoryDisk;
  readonly #queue: GroupCommit;
  #state: "new" | "open" | "closed" = "new";

  constructor(disk: MemoryDisk, options: EventStoreOptions) {
    this.#disk = disk;
    this.#queue = new GroupCommit(async (plan) => {
      const batch = plan(this.#tip());
      this.#disk.rows.push(...batch.rows);
      this.#disk.net ??= batch.net;
    }, options.maxBatchEvents);
  }

  async open(): Promise<void> {
    if (this.#state === "closed") throw storeNotOpen(this.kind);
    this.#state = "open";
  }

  append(events: readonly StoredEvent[]): Promise<void> {
    if (this.#state !== "open") return Promise.reject(storeNotOpen(this.kind));
    return this.#queue.append(events);
  }

  async *read(fromSeq: number, limit = Number.POSITIVE_INFINITY): AsyncIterable<StoredEvent> {
    checkReadRange(fromSeq, limit);
    this.#requireOpen();
    const rows = this.#disk.rows;
    const end = Math.min(rows.length, fromSeq + limit);
    for (let seq = fromSeq; seq < end; seq++) {
      this.#requireOpen();
      // Rows exist only after genesis, which set the network id in the same step.
      yield decodeEventRow(rows[seq]!, this.#disk.net!);
    }
  }

  async head(): Promise<LogHead | null> {
    this.#requireOpen();
    return this.#tip();
  }

  async net(): Promise<string | null> {
    this.#requireOpen();
    return this.#disk.net;
  }

  async putSnapshot(snapshot: SnapshotInput): Promise<void> {
    this.#requireOpen();
    const event = this.#disk.rows[snapshot.seq];
    if (event === undefined) throw snapshotOfMissingEvent(snapshot.seq);
    const existing = this.#disk.snapshots.get(snapshot.seq);
    if (existing !== undefined) {
      if (existing.stateHash === snapshot.stateHash) return;
      throw conflictingSnapshot(snapshot.seq, existing.stateHash, snapshot.stateHash);
    }
    this.#disk.snapshots.set(snapshot.seq, {
      seq: snapshot.seq,
      eventHash: event.hash,
      stateHash: snapshot.stateHash,
      // Copied in and out: a caller that reuses its buffer must not rewrite the stored snapshot.
      state: snapshot.state.slice(),
    });
  }

  async latestSnapshot(): Promise<Snapshot | null> {
    this.#requireOpen();
    let latest: Snapshot | null = null;
    for (const s of this.#disk.snapshots.values()) if (latest === null || s.seq > latest.seq) latest = s;
    return latest === null ? null : { ...latest, state: latest.state.slice() };
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    await this.#queue.drain();
  }

  #tip(): LogHead | null {
    const last = this.#disk.rows[this.#disk.rows.length - 1];
    return last === undefined ? null : { seq: last.seq, hash: last.hash };
  }

  #requireOpen(): void {
    if (this.#state !== "open") throw storeNotOpen(this.kind);
  }
}
