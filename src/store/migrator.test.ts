import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { utf8 } from "../protocol/bytes.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { sha256Hex } from "../protocol/hash.ts";
import { loadMigrations, type Migration, migrate } from "./migrator.ts";
import { openPgliteDriver } from "./pglite-event-store.ts";
import { openPostgresDriver } from "./postgres-event-store.ts";
import type { SqlDriver } from "./sql-driver.ts";

const pgUrl = process.env["SWITCHYARD_TEST_PG"];
const refused = (e: unknown) => isSwitchyardError(e, "STORE_UNAVAILABLE");

function migration(id: number, sql: string): Migration {
  return { id, name: `step_${id}`, sql, checksum: sha256Hex(utf8(sql)) };
}

const first = migration(1, "CREATE TABLE a (x int4);");
const second = migration(2, "CREATE TABLE b (y int4);");

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchyard-migrator-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadMigrations", () => {
  test("the bundled migrations are numbered from 1 without gaps", () => {
    const all = loadMigrations();
    assert.ok(all.length >= 1);
    assert.deepEqual(
      all.map((m) => m.id),
      all.map((_, i) => i + 1),
    );
    assert.equal(all[0]!.name, "event_log");
  });

  test("error: a gap in the numbering is refused", async () => {
    const files = join(dir, "gap");
    await mkdir(files);
    await writeFile(join(files, "0001_a.sql"), "SELECT 1;");
    await writeFile(join(files, "0003_c.sql"), "SELECT 1;");
    assert.throws(() => loadMigrations(files), refused);
  });
});

/** The migrator specification against one driver; `connect` opens a new driver on the same database. */
function migratorSpec(adapter: string, connect: () => Promise<SqlDriver>, skip: string | undefined): void {
  const options = skip === undefined ? {} : { skip };
  const withDriver = async (body: (driver: SqlDriver, schema: string) => Promise<void>) => {
    const driver = await connect();
    const schema = `migrator_${randomBytes(4).toString("hex")}`;
    try {
      await body(driver, schema);
    } finally {
      await driver.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await driver.close();
    }
  };

  describe(`migrate: ${adapter}`, () => {
    test("applies each migration once, and nothing on the next run", options, () =>
      withDriver(async (driver, schema) => {
        assert.deepEqual(await migrate(driver, schema, [first]), [1]);
        assert.deepEqual(await migrate(driver, schema, [first, second]), [2]);
        assert.deepEqual(await migrate(driver, schema, [first, second]), []);
        await driver.query(`INSERT INTO ${schema}.b (y) VALUES (1)`);
      }),
    );

    test("error: a migration edited after it was applied is refused", options, () =>
      withDriver(async (driver, schema) => {
        await migrate(driver, schema, [first]);
        const edited = migration(1, "CREATE TABLE a (x int8);");
        await assert.rejects(migrate(driver, schema, [edited]), refused);
      }),
    );

    test("error: a schema migrated by a newer build is refused", options, () =>
      withDriver(async (driver, schema) => {
        await migrate(driver, schema, [first, second]);
        await assert.rejects(migrate(driver, schema, [first]), refused);
      }),
    );

    test("error: a failing migration leaves nothing applied", options, () =>
      withDriver(async (driver, schema) => {
        await assert.rejects(migrate(driver, schema, [first, migration(2, "CREATE TABLE nonsense (")]));
        assert.deepEqual(await migrate(driver, schema, [first]), [1]);
      }),
    );
  });
}

let pgliteDir = "";
migratorSpec(
  "pglite",
  async () => {
    pgliteDir ||= join(dir, "pglite");
    return openPgliteDriver(pgliteDir);
  },
  undefined,
);

migratorSpec(
  "postgres",
  () => openPostgresDriver({ url: pgUrl! }),
  pgUrl === undefined ? "SWITCHYARD_TEST_PG not set" : undefined,
);

test(
  "postgres: coordinators migrating one schema at the same time apply each migration exactly once",
  pgUrl === undefined ? { skip: "SWITCHYARD_TEST_PG not set" } : {},
  async () => {
    const schema = `migrator_race_${randomBytes(4).toString("hex")}`;
    const drivers = await Promise.all(Array.from({ length: 4 }, () => openPostgresDriver({ url: pgUrl! })));
    try {
      const applied = await Promise.all(drivers.map((d) => migrate(d, schema)));
      assert.deepEqual(
        applied.flat().sort(),
        loadMigrations().map((m) => m.id),
      );
    } finally {
      await drivers[0]!.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await Promise.all(drivers.map((d) => d.close()));
    }
  },
);
