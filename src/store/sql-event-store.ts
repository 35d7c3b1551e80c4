/**
 * The EventStore over SQL, shared by the PGlite and PostgreSQL adapters: one dialect, one set of
 * statements, one migrator; the drivers underneath differ only in how they connect and how a
 * commit is made durable.
 */
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import type { StoredEvent } from "../protocol/log.ts";
import {
  checkReadRange,
  conflictingSnapshot,
  snapshotOfMissingEvent,
  storeNotOpen,
  storeUnavailable,
} from "./errors.ts";
import { decodeEventRow, type EventRow, readPageSize } from "./event-rows.ts";
import type { EventStore, EventStoreOptions, LogHead, Snapshot, SnapshotInput } from "./event-store.ts";
import { GroupCommit, type PlannedBatch } from "./group-commit.ts";
import { migrate } from "./migrator.ts";
import { checkSchemaName, type SqlDriver, type SqlSession, sqlState, uniqueViolation } from "./sql-driver.ts";

interface RawEventRow {
  seq: number | string;
  hash: string;
  prev: string;
  json: string;
}

interface RawSnapshotRow {
  seq: number | string;
  event_hash: string;
  state_hash: string;
  state: Uint8Array;
}

/** node-postgres returns int8 as a string, PGlite as a number; seqs are safe integers either way. */
const toRow = (r: RawEventRow): EventRow => ({
  seq: Number(r.seq),
  hash: r.hash as Hex32,
  prev: r.prev as Hex32,
  json: r.json,
});

export class SqlEventStore implements EventStore {
  readonly kind: string;
  readonly #connect: () => Promise<SqlDriver>;
  readonly #schema: string;
  readonly #queue: GroupCommit;
  #driver: SqlDriver | null = null;
  #state: "new" | "open" | "closed" = "new";
  #opening: Promise<void> | null = null;
  #net: string | null = null;

  /** `connect` opens the driver; `schema` holds this log's tables (created by the migrator). */
  constructor(
    kind: string,
    connect: () => Promise<SqlDriver>,
    schema: string,
    options: EventStoreOptions = {},
  ) {
    this.kind = kind;
    this.#connect = connect;
    this.#schema = checkSchemaName(schema);
    this.#queue = new GroupCommit((plan) => this.#commit(plan), options.maxBatchEvents);
  }

  open(): Promise<void> {
    if (this.#state === "closed") return Promise.reject(storeNotOpen(this.kind));
    // Two callers opening at once share one connection and one migration run.
    this.#opening ??= this.#connectAndMigrate();
    return this.#opening;
  }

  async #connectAndMigrate(): Promise<void> {
    const driver = await this.#connect().catch((error: unknown) => {
      this.#opening = null;
      throw error;
    });
    try {
      await migrate(driver, this.#schema);
    } catch (error) {
      this.#opening = null;
      await driver.close();
      throw storeUnavailable(error, `migrating schema ${this.#schema}`);
    }
    if (this.#state === "closed") {
      // close() was called while this was connecting: honour it rather than leak the connection.
      await driver.close();
      throw storeNotOpen(this.kind);
    }
    this.#driver = driver;
    this.#state = "open";
  }

  append(events: readonly StoredEvent[]): Promise<void> {
    if (this.#state !== "open") return Promise.reject(storeNotOpen(this.kind));
    return this.#queue.append(events);
  }

  async #commit(plan: (head: LogHead | null) => PlannedBatch): Promise<void> {
    const s = this.#schema;
    let net: string | null = null;
    try {
      // Not #open(): close() lets the calls already queued finish, after refusing new ones.
      if (this.#driver === null) throw storeNotOpen(this.kind);
      await this.#driver.transaction(async (tx) => {
        const batch = plan(await this.#head(tx));
        if (batch.rows.length === 0) return;
        // One statement per batch whatever its size: four parallel arrays, unnested into rows.
        await tx.query(
          `INSERT INTO ${s}.events (seq, hash, prev, json)
           SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[])`,
          [
            batch.rows.map((r) => r.seq),
            batch.rows.map((r) => r.hash),
            batch.rows.map((r) => r.prev),
            batch.rows.map((r) => r.json),
          ],
        );
        if (batch.net !== null)
          await tx.query(`INSERT INTO ${s}.meta (key, value) VALUES ('net', $1)`, [batch.net]);
        net = batch.net;
      });
    } catch (error) {
      if (sqlState(error) === uniqueViolation) {
        throw new SwitchyardError("CHAIN_BROKEN", "another writer appended the same sequence numbers first", {
          cause: error,
        });
      }
      throw storeUnavailable(error, "appending events");
    }
    this.#net ??= net;
  }

  async *read(fromSeq: number, limit = Number.POSITIVE_INFINITY): AsyncIterable<StoredEvent> {
    checkReadRange(fromSeq, limit);
    let next = fromSeq;
    let left = limit;
    // Page by seq rather than hold a cursor open: a long replay must not pin a connection or a
    // transaction, and the log is append-only, so pages cannot shift under the reader.
    while (left > 0) {
      const pageSize = Math.min(readPageSize, left);
      const page = await this.#query("reading events", (db) =>
        db.query<RawEventRow>(
          `SELECT seq, hash, prev, json FROM ${this.#schema}.events WHERE seq >= $1 ORDER BY seq LIMIT $2`,
          [next, pageSize],
        ),
      );
      if (page.length === 0) return;
      const net = await this.#requireNet();
      for (const raw of page) yield decodeEventRow(toRow(raw), net);
      next = Number(page[page.length - 1]!.seq) + 1;
      left -= page.length;
      if (page.length < pageSize) return;
    }
  }

  async head(): Promise<LogHead | null> {
    return this.#query("reading the head", (db) => this.#head(db));
  }

  async #head(db: SqlSession): Promise<LogHead | null> {
    const [row] = await db.query<{ seq: number | string; hash: string }>(
      `SELECT seq, hash FROM ${this.#schema}.events ORDER BY seq DESC LIMIT 1`,
    );
    return row === undefined ? null : { seq: Number(row.seq), hash: row.hash as Hex32 };
  }

  async net(): Promise<string | null> {
    if (this.#net !== null) return this.#net;
    const [row] = await this.#query("reading the network id", (db) =>
      db.query<{ value: string }>(`SELECT value FROM ${this.#schema}.meta WHERE key = 'net'`),
    );
    this.#net = row?.value ?? null;
    return this.#net;
  }

  async #requireNet(): Promise<string> {
    const net = await this.net();
    if (net === null) {
      throw new SwitchyardError(
        "CHAIN_BROKEN",
        "the log has events but no recorded network id: its genesis is missing",
        {
          details: { seq: 0 },
        },
      );
    }
    return net;
  }

  async putSnapshot(snapshot: SnapshotInput): Promise<void> {
    const s = this.#schema;
    await this.#query("storing a snapshot", (db) =>
      db.transaction(async (tx) => {
        const [event] = await tx.query<{ hash: string }>(`SELECT hash FROM ${s}.events WHERE seq = $1`, [
          snapshot.seq,
        ]);
        if (event === undefined) throw snapshotOfMissingEvent(snapshot.seq);
        const [existing] = await tx.query<{ state_hash: string }>(
          `SELECT state_hash FROM ${s}.snapshots WHERE seq = $1`,
          [snapshot.seq],
        );
        if (existing !== undefined) {
          if (existing.state_hash === snapshot.stateHash) return;
          throw conflictingSnapshot(snapshot.seq, existing.state_hash, snapshot.stateHash);
        }
        await tx.query(
          `INSERT INTO ${s}.snapshots (seq, event_hash, state_hash, state) VALUES ($1, $2, $3, $4)`,
          [snapshot.seq, event.hash, snapshot.stateHash, snapshot.state],
        );
      }),
    );
  }

  async latestSnapshot(): Promise<Snapshot | null> {
    const [row] = await this.#query("reading the latest snapshot", (db) =>
      db.query<RawSnapshotRow>(
        `SELECT seq, event_hash, state_hash, state FROM ${this.#schema}.snapshots ORDER BY seq DESC LIMIT 1`,
      ),
    );
    if (row === undefined) return null;
    return {
      seq: Number(row.seq),
      eventHash: row.event_hash as Hex32,
      stateHash: row.state_hash as Hex32,
      // A copy as a plain Uint8Array: node-postgres hands out a Buffer over a shared pool.
      state: new Uint8Array(row.state),
    };
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    await this.#queue.drain();
    if (wasOpen) await this.#driver?.close();
    this.#driver = null;
  }

  #open(): SqlDriver {
    if (this.#state !== "open" || this.#driver === null) throw storeNotOpen(this.kind);
    return this.#driver;
  }

  async #query<T>(doing: string, run: (db: SqlDriver) => Promise<T>): Promise<T> {
    try {
      return await run(this.#open());
    } catch (error) {
      throw storeUnavailable(error, doing);
    }
  }
}
