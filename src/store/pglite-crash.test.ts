import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type StoredEvent, verifyChain } from "../protocol/log.ts";
import { pgliteEventStore } from "./pglite-event-store.ts";
import { sampleLog } from "./testing/sample-log.ts";

/** Acknowledgements to wait for before the kill: enough that many group commits have happened. */
const acksBeforeKill = 1500;

test("a PGlite store killed with SIGKILL mid-append keeps every acknowledged event", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "switchyard-crash-"));
  try {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "testing", "crashing-appender.ts"), dataDir],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let highestAck = -1;
    let acks = 0;
    let buffered = "";
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        highestAck = Math.max(highestAck, Number(line.slice("acked ".length)));
        if (++acks === acksBeforeKill) child.kill("SIGKILL");
      }
    });
    assert.equal(await exited, "SIGKILL", "the appender was killed, not finished");
    assert.ok(acks >= acksBeforeKill);

    const store = pgliteEventStore({ dataDir });
    await store.open();
    try {
      const back: StoredEvent[] = [];
      for await (const e of store.read(0)) back.push(e);
      assert.ok(
        back.length > highestAck,
        `acknowledged up to ${highestAck}, recovered ${back.length} events`,
      );
      verifyChain(back);
      assert.deepEqual(back, sampleLog(back.length));
    } finally {
      await store.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
