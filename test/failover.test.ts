/**
 * Failover end to end, with real processes over loopback: `switchyard demo --kill-provider` starts a
 * coordinator and seven providers, kill -9s the training provider once it has reported a quarter of
 * its steps, and follows the pipeline to settlement. The test reads the demo's report and then,
 * independently, replays the coordinator's stored log.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { accounts, balanceOf, replay } from "../src/core/index.ts";
import { nodeEd25519 } from "../src/protocol/ed25519.node.ts";
import type { JobId } from "../src/protocol/ids.ts";
import type { StoredEvent } from "../src/protocol/log.ts";
import { auditStore } from "../src/store/audit.ts";
import { pgliteEventStore } from "../src/store/pglite-event-store.ts";
import { assertBudgetAccountedFor } from "./settlement.ts";

const root = resolve(import.meta.dirname, "..");

test("a pipeline whose provider is killed mid-stage still completes: resumed from its last checkpoint, each step paid once, the log audits clean", {
  timeout: 600_000,
}, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-failover-"));
  try {
    const run = spawnSync(
      process.execPath,
      // --timeout: a job that cannot finish ends the demo with its report (stage statuses and what
      // excludes their offers) well inside the runner's per-file limit, instead of hanging into it.
      [
        "--import",
        "tsx",
        "src/cli/main.ts",
        "demo",
        "--kill-provider",
        "--json",
        "--timeout",
        "240",
        "--data-dir",
        dataDir,
      ],
      { cwd: root, encoding: "utf8", timeout: 590_000 },
    );
    assert.equal(
      run.status,
      0,
      `demo --kill-provider exited ${run.status}: ${run.stderr.slice(-2000)}\n${run.stdout.slice(0, 4000)}`,
    );
    const report = JSON.parse(run.stdout);
    assert.equal(report.ok, true);
    for (const s of report.stages) assert.equal(s.status, "settled", `${s.name} is ${s.status}`);

    const f = report.failover;
    assert.equal(f.ok, true);
    assert.equal(f.killed.provider, "fra-gpu-1", "the EU training stage's first provider");
    assert.match(f.resumedBy, /^par-gpu-1 /, "resumed on the other EU gpu");
    // Resumed from a checkpoint the killed provider reported — at least the one the watcher saw.
    assert.ok(f.resumedFrom.step >= f.killed.atStep && f.resumedFrom.step < f.resumedFrom.steps);
    assert.ok(f.resumedFrom.checkpoint >= f.killed.atCheckpoint);
    assert.match(f.resumeSource, /\/v1$/, "the state came from the coordinator's blob cache");
    assert.ok(f.detectedAfterMs >= 0, "detected after the kill, by the missed deadline");
    // Each step paid once: the killed provider its prefix, the new one the rest, summing to the cost.
    assert.deepEqual(
      f.payouts.map((p: { provider: string; fromStep: number; toStep: number }) => [
        p.provider.split(" ")[0],
        p.fromStep,
        p.toStep,
      ]),
      [
        ["fra-gpu-1", 0, f.resumedFrom.step],
        ["par-gpu-1", f.resumedFrom.step, f.resumedFrom.steps],
      ],
    );
    const split = f.payouts.reduce((n: bigint, p: { amountMicro: string }) => n + BigInt(p.amountMicro), 0n);
    assert.equal(split, BigInt(f.paidMicro));
    const train = report.stages.find((s: { name: string }) => s.name === "train");
    assert.equal(train.costMicro, f.paidMicro, "the requester paid the stage's cost once");
    // Everything locked is accounted for: payouts + fees + verifier fees + refund = budget.
    assertBudgetAccountedFor(report.settlement);
    assert.equal(report.audit.ok, true);

    // Independently of the demo: audit the stored log and replay it.
    const store = pgliteEventStore({ dataDir: join(dataDir, "coordinator", "log") });
    await store.open();
    try {
      // Agents may sequence events (coordinate reports, ticks) after the status the demo read: the
      // audit reproduces the acknowledged hash at its seq and checks every later event.
      const audit = await auditStore(store, nodeEd25519, {
        seq: report.audit.acknowledgedSeq,
        stateHash: report.audit.acknowledgedStateHash,
      });
      assert.equal(audit.ok, true, JSON.stringify(audit.error));
      assert.equal(audit.checkedAt?.stateHash, report.audit.acknowledgedStateHash);
      const events: StoredEvent[] = [];
      for await (const e of store.read(0)) events.push(e);
      const state = replay(events);
      const stage = state.jobs.get(report.jobId as JobId)!.stages.get("train")!;
      assert.equal(stage.handoffs?.length, 1);
      assert.equal(stage.timedOut.length, 1, "the killed provider is barred from the stage");
      assert.equal(stage.handoffs?.[0]?.provider, stage.timedOut[0]);
      assert.equal(
        stage.payouts?.reduce((n, p) => n + p.amount, 0n),
        stage.paid,
      );
      assert.ok(stage.checks?.every((c) => c.segment === undefined || c.segment >= stage.resumeFrom!.index));
      assert.equal(balanceOf(state, accounts.escrow(report.jobId as JobId)), 0n);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
