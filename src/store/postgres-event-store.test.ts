import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";
import { isSwitchyardError } from "../protocol/errors.ts";
import { verifyChain } from "../protocol/log.ts";
import { eventStoreConformance } from "./event-store.conformance.ts";
import { postgresEventStore } from "./postgres-event-store.ts";
import { nextEvent, sampleLog } from "./testing/sample-log.ts";

const url = process.env["SWITCHYARD_TEST_PG"];
const skip = url === undefined ? { skip: "SWITCHYARD_TEST_PG not set" } : {};

/** A schema of its own per test, so parallel test files and reruns never share tables. */
eventStoreConformance(
  "postgres",
  async () => {
    const schema = `switchyard_test_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    return {
      connect: () => postgresEventStore({ url: url!, schema }),
      async tamper(seq, edit) {
        const { rows } = await admin.query<{ json: string }>(
          `SELECT json FROM ${schema}.events WHERE seq = $1`,
          [seq],
        );
        await admin.query(`UPDATE ${schema}.events SET json = $1 WHERE seq = $2`, [edit(rows[0]!.json), seq]);
      },
      async destroy() {
        try {
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await admin.end();
        }
      },
    };
  },
  skip,
);

test(
  "error: two coordinators appending the same seq — one commits, the other gets CHAIN_BROKEN",
  skip,
  async () => {
    const schema = `switchyard_test_${randomBytes(6).toString("hex")}`;
    const a = postgresEventStore({ url: url!, schema });
    const b = postgresEventStore({ url: url!, schema });
    try {
      await a.open();
      await b.open();
      const log = sampleLog(5);
      await a.append(log);
      for (let round = 0; round < 20; round++) {
        const head = log[log.length - 1]!;
        const mine = nextEvent(head, { kind: "sys", sys: { type: "tick" } });
        const theirs = {
          ...nextEvent({ ...head, time: head.time + 1 }, { kind: "sys", sys: { type: "tick" } }),
        };
        const [ra, rb] = await Promise.allSettled([a.append([mine]), b.append([theirs])]);
        const won = [ra, rb].filter((r) => r.status === "fulfilled");
        assert.equal(won.length, 1, `round ${round}: exactly one writer wins`);
        const lost = [ra, rb].find((r) => r.status === "rejected");
        assert.ok(lost?.status === "rejected" && isSwitchyardError(lost.reason, "CHAIN_BROKEN"));
        log.push(ra.status === "fulfilled" ? mine : theirs);
      }
      const back = [];
      for await (const e of b.read(0)) back.push(e);
      assert.deepEqual(back, log);
      verifyChain(back);
    } finally {
      await a.close();
      await b.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  },
);
