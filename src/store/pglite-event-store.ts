/**
 * The default EventStore: PostgreSQL compiled to WebAssembly (PGlite), embedded in the process,
 * with its data directory on the local filesystem.
 *
 * Durability. PGlite on Node writes its files through Emscripten's NODEFS, which implements no
 * fsync, and PGlite starts PostgreSQL with `fsync=off`; its `relaxedDurability` option only decides
 * whether a query waits for the browser filesystems (IndexedDB, OPFS) to flush and changes nothing
 * here. So a committed transaction reaches the OS page cache (it survives a crash of the process)
 * but not the disk (it would not survive a power cut). This adapter closes that gap itself: after
 * every commit it fdatasyncs the WAL segments written since the last commit, and it syncs the whole
 * data directory after open and after close (initdb's files, and the shutdown checkpoint).
 */
import { mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { SwitchyardError } from "../protocol/errors.ts";
import { syncPath } from "./durable-fs.ts";
import { storeUnavailable } from "./errors.ts";
import type { EventStore, EventStoreOptions } from "./event-store.ts";
import { defaultSchema, type SqlDriver, type SqlSession } from "./sql-driver.ts";
import { SqlEventStore } from "./sql-event-store.ts";

export interface PgliteEventStoreOptions extends EventStoreOptions {
  /** A filesystem directory, created if missing. One process at a time may open it. */
  readonly dataDir: string;
  /** Schema holding the tables (default `switchyard`). */
  readonly schema?: string;
}

/**
 * An event store in an embedded PGlite database.
 *
 * ```ts
 * const store = pgliteEventStore({ dataDir: ".switchyard/log" });
 * await store.open();
 * await store.append([genesis]);
 * ```
 */
export function pgliteEventStore(options: PgliteEventStoreOptions): EventStore {
  return new SqlEventStore(
    "pglite",
    () => openPgliteDriver(options.dataDir),
    options.schema ?? defaultSchema,
    options,
  );
}

/**
 * The PGlite driver on its own, for other SQL that shares the data directory (e.g. the migrator's
 * tests). Every transaction it commits is synced to disk before it resolves.
 */
export async function openPgliteDriver(dataDir: string): Promise<SqlDriver> {
  // PGlite reads a bare name as a path but `memory://` or `idb://` as other filesystems; an absolute
  // path keeps it on the local filesystem, where the syncs below apply.
  dataDir = resolve(dataDir);
  let db: PGlite;
  try {
    await mkdir(dataDir, { recursive: true });
    db = await PGlite.create(dataDir, { relaxedDurability: false });
  } catch (error) {
    throw storeUnavailable(error, `opening PGlite in ${dataDir}`);
  }
  let wal: WalSync;
  try {
    await syncTree(dataDir);
    wal = new WalSync(join(dataDir, "pg_wal"), await currentWalSegment(db));
  } catch (error) {
    await db.close();
    throw storeUnavailable(error, `syncing PGlite data in ${dataDir}`);
  }
  // After a failed fsync the kernel may have dropped the dirty pages while later reads still see
  // them, so nothing this process reads or acknowledges can be trusted (PostgreSQL panics for the
  // same reason). Refuse everything until a restart recovers from what really is on disk.
  let syncFailure: unknown = null;
  const usable = () => {
    if (syncFailure === null) return;
    throw new SwitchyardError(
      "STORE_UNAVAILABLE",
      "an earlier fsync of the PGlite WAL failed: restart so PGlite recovers from what is on disk",
      { cause: syncFailure },
    );
  };
  const session = (q: PGlite | Transaction): SqlSession => ({
    query: async <Row extends object>(text: string, params: readonly unknown[] = []) => {
      usable();
      return (await q.query<Row>(text, [...params])).rows;
    },
    exec: async (script) => {
      usable();
      await q.exec(script);
    },
  });
  return {
    ...session(db),
    async transaction(work) {
      usable();
      const result = await db.transaction((tx) => work(session(tx)));
      try {
        await wal.sync(await currentWalSegment(db));
      } catch (error) {
        syncFailure = error;
        throw storeUnavailable(error, "syncing the PGlite WAL");
      }
      return result;
    },
    async close() {
      await db.close();
      if (syncFailure === null) await syncTree(dataDir);
    },
  };
}

/** The WAL segment file that holds the current end of the log. */
async function currentWalSegment(db: PGlite): Promise<string> {
  const { rows } = await db.query<{ segment: string }>(
    "SELECT pg_walfile_name(pg_current_wal_insert_lsn()) AS segment",
  );
  return rows[0]!.segment;
}

/**
 * Tracks which WAL segment was last made durable. A commit usually lands in the same segment as the
 * one before, which costs one fdatasync; when it crossed into new segments (16 MB each), every
 * segment in between is synced, and the directory too, so the new file names survive a power cut.
 */
class WalSync {
  readonly #dir: string;
  #synced: string;

  constructor(dir: string, segment: string) {
    this.#dir = dir;
    this.#synced = segment;
  }

  async sync(current: string): Promise<void> {
    if (current === this.#synced) {
      await syncPath(join(this.#dir, current), true);
      return;
    }
    // Segment names are fixed-width hex (timeline, log, segment), so string order is WAL order.
    const written = (await readdir(this.#dir))
      .filter((name) => /^[0-9A-F]{24}$/.test(name) && name >= this.#synced && name <= current)
      .sort();
    for (const name of written) await syncPath(join(this.#dir, name), true);
    await syncPath(this.#dir);
    this.#synced = current;
  }
}

/**
 * fsync every file and directory under `dir`: what initdb, crash recovery or the shutdown checkpoint
 * wrote without syncing. A data directory holds about a thousand files; syncing them 16 at a time
 * takes a fraction of the time of one by one, and stays far below the open-file limit.
 */
async function syncTree(dir: string): Promise<void> {
  const paths: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) paths.push(path);
    }
    paths.push(d);
  };
  await walk(dir);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) await syncPath(paths[next++]!);
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}
