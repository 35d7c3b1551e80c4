/**
 * append_per_s: log events appended durably per second — each append awaited until the store says
 * it is durable — by N concurrent appenders, with group commit (`batching: "group"`) and, as the
 * baseline in the same run, with one event per transaction (`batching: "none"`, maxBatchEvents 1).
 * The ratio between the two is what group commit buys on this machine's fsync.
 *
 * The events are what a coordinator appends: signed transfer envelopes (and a tick every tenth
 * event) chained with hashLogEvent, built once before timing. Each appender takes the next event
 * and waits for its acknowledgement before taking another, as a sequencer connection does.
 *
 * Stores: memory and PGlite always; PostgreSQL when SWITCHYARD_TEST_PG is set or `--pg <url>` is
 * passed (`npm run bench -- core --pg postgres://…`), otherwise no postgres line is printed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { StoredEvent } from "../src/protocol/log.ts";
import type { EventStore, EventStoreOptions } from "../src/store/event-store.ts";
import { memoryEventStore } from "../src/store/memory-event-store.ts";
import { pgliteEventStore } from "../src/store/pglite-event-store.ts";
import { postgresEventStore } from "../src/store/postgres-event-store.ts";
import { sampleLog } from "../src/store/testing/sample-log.ts";
import type { BenchSuite } from "./lib.ts";

const concurrencies = [1, 16, 128] as const;
/** Each measurement appends for this long; long enough for hundreds of fsyncs at the slowest. */
const secondsPerRun = 1;
/** Appended untimed first, so JIT, connections and the first WAL segment are warm. */
const warmupEvents = 200;
/** Enough events that no store runs out within secondsPerRun at the measured rates. */
const chainLength = 60_000;

type Batching = "group" | "none";
type OpenStore = (schema: string, options: EventStoreOptions) => EventStore;

function postgresUrl(): string | undefined {
  const at = process.argv.findIndex((a) => a === "--pg" || a.startsWith("--pg="));
  const arg = at < 0 ? undefined : (process.argv[at]!.split("=", 2)[1] ?? process.argv[at + 1]);
  return arg ?? process.env["SWITCHYARD_TEST_PG"];
}

/** Events per second appended by `concurrency` appenders until `secondsPerRun` has passed. */
async function measure(
  store: EventStore,
  chain: readonly StoredEvent[],
  concurrency: number,
): Promise<number> {
  await store.append(chain.slice(0, warmupEvents));
  let next = warmupEvents;
  const t0 = performance.now();
  const deadline = t0 + secondsPerRun * 1000;
  const appender = async () => {
    while (next < chain.length && performance.now() < deadline) await store.append([chain[next++]!]);
  };
  await Promise.all(Array.from({ length: concurrency }, appender));
  const seconds = (performance.now() - t0) / 1000;
  // Every acknowledged event must be in the log, or the figure counts writes that did not happen.
  assert.equal((await store.head())?.seq, next - 1);
  return (next - warmupEvents) / seconds;
}

export const appendSuite: BenchSuite = async (log) => {
  const chain = sampleLog(chainLength);
  const dataDir = await mkdtemp(join(tmpdir(), "switchyard-bench-append-"));
  const url = postgresUrl();
  const schemas: string[] = [];
  const stores: Array<[string, OpenStore]> = [
    ["memory", (_schema, options) => memoryEventStore(options)],
    // One data directory, a schema per run: a fresh log each time without a fresh initdb.
    ["pglite", (schema, options) => pgliteEventStore({ dataDir, schema, ...options })],
  ];
  if (url !== undefined) {
    stores.push([
      "postgres",
      (schema, options) => {
        schemas.push(schema);
        return postgresEventStore({ url, schema, ...options });
      },
    ]);
  }
  try {
    for (const [name, openStore] of stores) {
      for (const concurrency of concurrencies) {
        for (const batching of ["group", "none"] as const satisfies readonly Batching[]) {
          const schema = `bench_append_${randomBytes(4).toString("hex")}`;
          const store = openStore(schema, batching === "none" ? { maxBatchEvents: 1 } : {});
          await store.open();
          try {
            const value = await measure(store, chain, concurrency);
            log({
              bench: "core",
              metric: "append_per_s",
              value: Math.round(value),
              unit: "events/s",
              store: name,
              batching,
              concurrency,
            });
          } finally {
            await store.close();
          }
        }
      }
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    if (url !== undefined && schemas.length > 0) await dropSchemas(url, schemas);
  }
};

async function dropSchemas(url: string, schemas: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await client.end();
  }
}
