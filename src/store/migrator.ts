/**
 * Applies the numbered SQL files in `migrations/` (0001_*.sql, 0002_*.sql, ...) in order, once, on
 * PGlite and PostgreSQL alike, and records each in `switchyard_migrations` with a checksum.
 *
 * Two coordinators starting together against one PostgreSQL database must not both apply the same
 * migration, so the whole run holds a transaction-scoped advisory lock (`migrationLockKey`) and
 * happens in one transaction: the second waits, then finds everything applied. The lock is
 * database-wide, not per schema, which only makes unrelated schemas migrate one after the other.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { utf8 } from "../protocol/bytes.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { sha256Hex } from "../protocol/hash.ts";
import type { Hex32 } from "../protocol/ids.ts";
import type { SqlDriver } from "./sql-driver.ts";

/**
 * The advisory-lock key that serializes migrations: the ASCII bytes "swydmigr" as a 64-bit integer.
 * Any other advisory lock Switchyard takes (e.g. sequencer leadership) must use a different key.
 */
export const migrationLockKey = 0x7377_7964_6d69_6772n;

export interface Migration {
  /** The file's number: 1 for 0001_event_log.sql. */
  readonly id: number;
  readonly name: string;
  readonly sql: string;
  /** SHA-256 of the SQL text; an applied migration whose file changed is refused. */
  readonly checksum: Hex32;
}

const fileName = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Read `NNNN_name.sql` files from `dir`, in order; they must be numbered 1, 2, 3, ... without gaps. */
export function loadMigrations(dir = join(import.meta.dirname, "migrations")): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  return files.map((file, index) => {
    const m = fileName.exec(file);
    if (m === null || Number(m[1]) !== index + 1) {
      throw new SwitchyardError(
        "STORE_UNAVAILABLE",
        `migration file ${file} is misnamed or out of sequence: expected ${String(index + 1).padStart(4, "0")}_<name>.sql`,
      );
    }
    const sql = readFileSync(join(dir, file), "utf8");
    return { id: index + 1, name: m[2]!, sql, checksum: sha256Hex(utf8(sql)) };
  });
}

/**
 * Bring `schema` up to date. Returns the ids applied by this call (empty when there was nothing
 * to do). Refuses with STORE_UNAVAILABLE when the database holds a migration this build does not
 * know (it was migrated by a newer Switchyard) or one whose file has been edited since.
 */
export async function migrate(
  driver: SqlDriver,
  schema: string,
  migrations: readonly Migration[] = loadMigrations(),
): Promise<number[]> {
  return driver.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [migrationLockKey.toString()]);
    // The schema name was checked by checkSchemaName: plain identifier, no quoting needed.
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS ${schema}.switchyard_migrations (
      id int4 PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = await tx.query<{ id: number; name: string; checksum: string }>(
      `SELECT id, name, checksum FROM ${schema}.switchyard_migrations ORDER BY id`,
    );
    for (const row of applied) {
      const known = migrations[row.id - 1];
      if (known === undefined) {
        throw new SwitchyardError(
          "STORE_UNAVAILABLE",
          `schema ${schema} has migration ${row.id} (${row.name}), which this build does not know: upgrade Switchyard`,
          { details: { schema, migration: row.id } },
        );
      }
      if (known.checksum !== row.checksum) {
        throw new SwitchyardError(
          "STORE_UNAVAILABLE",
          `migration ${row.id} (${row.name}) was edited after it was applied to ${schema}; migrations are append-only: restore the file and add a new one`,
          { details: { schema, migration: row.id } },
        );
      }
    }
    const pending = migrations.slice(applied.length);
    for (const m of pending) {
      await tx.exec(`SET LOCAL search_path TO ${schema};\n${m.sql}`);
      await tx.query(`INSERT INTO ${schema}.switchyard_migrations (id, name, checksum) VALUES ($1, $2, $3)`, [
        m.id,
        m.name,
        m.checksum,
      ]);
    }
    return pending.map((m) => m.id);
  });
}
