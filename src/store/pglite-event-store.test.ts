import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { eventStoreConformance } from "./event-store.conformance.ts";
import { pgliteEventStore } from "./pglite-event-store.ts";

// initdb takes seconds, so the tests of this file share one data directory and each test gets a
// schema of its own in it; the tests of a file run one after another, so one PGlite is open at a time.
let dataDir = "";
let schemas = 0;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "switchyard-pglite-"));
});

after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

eventStoreConformance("pglite", async () => {
  const schema = `conformance_${++schemas}`;
  return {
    connect: () => pgliteEventStore({ dataDir, schema }),
    async tamper(seq, edit) {
      const db = await PGlite.create(dataDir);
      try {
        const table = `${schema}.events`;
        const { rows } = await db.query<{ json: string }>(`SELECT json FROM ${table} WHERE seq = $1`, [seq]);
        await db.query(`UPDATE ${table} SET json = $1 WHERE seq = $2`, [edit(rows[0]!.json), seq]);
      } finally {
        await db.close();
      }
    },
    // The whole directory goes when the file is done.
    async destroy() {},
  };
});
