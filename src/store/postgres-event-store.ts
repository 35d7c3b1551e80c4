/**
 * The EventStore on a PostgreSQL server, through a node-postgres pool. Several coordinators may
 * share one database: the primary key on seq lets only one of them append each event, and the
 * migrator serializes schema changes with an advisory lock.
 *
 * Durability is the server's: COMMIT returns once the WAL is flushed, which every connection
 * enforces by starting with `synchronous_commit=on` whatever the server default is (a connection
 * string that sets its own `options` replaces this).
 */
import pg from "pg";
import { SwitchyardError } from "../protocol/errors.ts";
import { storeUnavailable } from "./errors.ts";
import type { EventStore, EventStoreOptions } from "./event-store.ts";
import { defaultSchema, type SqlDriver, type SqlSession } from "./sql-driver.ts";
import { SqlEventStore } from "./sql-event-store.ts";

export interface PostgresEventStoreOptions extends EventStoreOptions {
  /** `postgres://user@host:port/database` */
  readonly url: string;
  /** Schema holding the tables (default `switchyard`); created if missing. */
  readonly schema?: string;
  /** Connections in the pool (default 4: one committer, the rest for readers). */
  readonly poolSize?: number;
}

/**
 * PostgreSQL 13 is the oldest release still supported upstream; the store uses nothing newer, but
 * is tested only on maintained releases, so older servers are refused rather than half-working.
 */
export const minServerVersion = 130000;

/**
 * An event store in a PostgreSQL schema.
 *
 * ```ts
 * const store = postgresEventStore({ url: "postgres://postgres@127.0.0.1:5432/switchyard" });
 * await store.open();
 * ```
 */
export function postgresEventStore(options: PostgresEventStoreOptions): EventStore {
  return new SqlEventStore(
    "postgres",
    () => openPostgresDriver(options),
    options.schema ?? defaultSchema,
    options,
  );
}

/** The node-postgres driver on its own, for other SQL on the same database (e.g. the migrator's tests). */
export async function openPostgresDriver(
  options: Pick<PostgresEventStoreOptions, "url" | "poolSize">,
): Promise<SqlDriver> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 4,
    options: "-c synchronous_commit=on",
  });
  // An idle connection that dies (server restart, network) is dropped by the pool, which reports it
  // here; without a listener node would crash the process. The next query opens a new connection or
  // fails with STORE_UNAVAILABLE, which is where the caller learns of it.
  pool.on("error", () => {});
  try {
    const { rows } = await pool.query<{ server_version_num: string }>("SHOW server_version_num");
    const version = Number(rows[0]?.server_version_num);
    if (!(version >= minServerVersion)) {
      throw new SwitchyardError(
        "STORE_UNAVAILABLE",
        `PostgreSQL server version ${version} is too old: Switchyard needs ${minServerVersion / 10000} or newer`,
        { details: { version } },
      );
    }
  } catch (error) {
    await pool.end();
    throw storeUnavailable(error, `connecting to PostgreSQL at ${redactPassword(options.url)}`);
  }
  const session = (q: pg.Pool | pg.PoolClient): SqlSession => ({
    query: async <Row extends object>(text: string, params: readonly unknown[] = []) =>
      (await q.query<Row & pg.QueryResultRow>(text, [...params])).rows,
    exec: async (script) => {
      await q.query(script);
    },
  });
  return {
    ...session(pool),
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const result = await work(session(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackError) {
          // The connection is unusable; releasing it with an error makes the pool discard it.
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/** Connection strings appear in error messages; passwords must not. */
function redactPassword(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}
