/**
 * The thin driver under the SQL adapters. PGlite and node-postgres speak the same PostgreSQL
 * dialect; everything above this interface (migrations, queries, group commit) is shared, and a
 * driver only connects, runs statements and delimits transactions — as in Drizzle's pg-core.
 */
import { SwitchyardError } from "../protocol/errors.ts";

export interface SqlSession {
  /** One parameterized statement; rows as the driver returns them. */
  query<Row extends object>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /** A script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface SqlDriver extends SqlSession {
  /**
   * Run `work` in one transaction on one connection. Resolves after COMMIT, and only once the commit
   * is as durable as the driver promises (see docs/store.md); rolls back and rethrows on error.
   */
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Every Switchyard table lives in one schema, so several logs can share a database (tests, or a
 * staging and a production network). The name reaches SQL through search_path, so it is restricted
 * to plain lower-case identifiers that need no quoting anywhere.
 */
export const defaultSchema = "switchyard";

export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new SwitchyardError(
      "MALFORMED",
      `schema name '${schema}' must be lower-case letters, digits and _ (at most 63), starting with a letter or _`,
    );
  }
  return schema;
}

/** The SQLSTATE of a database error from either driver, if it has one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** `unique_violation`: another writer inserted the same key first. */
export const uniqueViolation = "23505";
