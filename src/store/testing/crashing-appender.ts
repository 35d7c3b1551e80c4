/**
 * Child process for the crash test: appends a sample log to a PGlite store from 16 concurrent
 * appenders and prints `acked <seq>` for every append the store acknowledged, until it is killed.
 * Usage: node --import tsx crashing-appender.ts <dataDir>
 */
import { pgliteEventStore } from "../pglite-event-store.ts";
import { sampleLog } from "./sample-log.ts";

const dataDir = process.argv[2];
if (dataDir === undefined) throw new TypeError("usage: crashing-appender.ts <dataDir>");
const log = sampleLog(20_000);
const store = pgliteEventStore({ dataDir });
await store.open();
let next = 0;
const appender = async () => {
  while (next < log.length) {
    const event = log[next++]!;
    await store.append([event]);
    process.stdout.write(`acked ${event.seq}\n`);
  }
};
await Promise.all(Array.from({ length: 16 }, appender));
