import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import type { DemoStage } from "../src/cli/demo.ts";
import { assertBudgetAccountedFor } from "./settlement.ts";

const root = resolve(import.meta.dirname, "..");

test("npm start's demo runs the seed pipeline on a real local network, settles it and passes the audit (--json contract)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-netdemo-"));
  try {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "demo", "--json", "--data-dir", dataDir],
      {
        cwd: root,
        encoding: "utf8",
        timeout: 285_000,
      },
    );
    assert.equal(run.status, 0, `demo exited ${run.status}: ${run.stderr.slice(-2000)}`);
    const report = JSON.parse(run.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.latency, "emulated");
    assert.ok(new Set(report.providers.map((p: { city: string }) => p.city)).size >= 5);
    for (const s of report.stages) {
      for (const field of ["name", "provider", "city", "jurisdiction", "status", "costMicro"])
        assert.ok(field in s, field);
      assert.equal(s.status, "settled");
    }
    const stage = (name: string) => report.stages.find((s: { name: string }) => s.name === name);
    assert.ok(stage("train").jurisdiction.split(",").includes("EU"));
    assert.ok(stage("evaluate").emulatedRttMs <= 40, "evaluation stays within 40 ms of Singapore");
    assert.ok(stage("evaluate").bytesIn > 0, "the trained model moved provider to provider");
    assert.ok(report.loop.roundTrips >= 30);
    assert.equal(report.audit.ok, true);
    assert.equal(report.audit.stateHash, report.audit.acknowledgedStateHash);
    // Sealed: the EU-only training stage's key went, through the log, only to EU nodes.
    assert.ok(report.sealing.released.length >= 2, "its provider and its verifier");
    for (const k of report.sealing.released) {
      assert.equal(k.stage, "train");
      assert.match(k.to, /\((Frankfurt|Paris|Amsterdam)\)$/, `${k.to} is inside the EU`);
    }
    // Every stage's output is sealed; its output key went to its provider and readers, never a relay.
    assert.ok(report.sealing.outputKeys.length >= 5, "four providers and evaluate's reader");
    for (const k of report.sealing.outputKeys) assert.doesNotMatch(k.to, /relay/);
    // Evaluate's provider acknowledged the model it received; the core paid the egress from the
    // transfer budget.
    const moved = report.settlement.transfers.find((t: { stage: string }) => t.stage === "evaluate");
    assert.equal(moved?.from, "train");
    assert.ok(moved.bytes > 0 && BigInt(moved.egressMicro) > 0n, JSON.stringify(moved));
    // The model moved from train to evaluate over a routed path, explained.
    const routed = report.inputPaths.find((p: { stage: string }) => p.stage === "evaluate");
    assert.equal(routed?.input, "train");
    assert.ok(routed.attempts.length >= 1 && routed.attempts.at(-1).endsWith(": ok"), routed.attempts);
    // Each spot-checked stage reports its decision and outcome; honest providers are never slashed.
    for (const name of ["train", "evaluate"]) {
      const v = stage(name).verification;
      assert.equal(v.policy, "spot");
      assert.ok(v.checks.length >= 1, `${name} has a verification record`);
      for (const c of v.checks) {
        assert.deepEqual(c.slashed, [], `${name}: nobody slashed on an honest run`);
        assert.ok(["verified", "unchecked"].includes(c.outcome), `${name}: ${c.outcome}`);
        if (c.checked) assert.notEqual(c.verifier, c.provider, "never the provider's own identity");
      }
    }
    assertBudgetAccountedFor(report.settlement);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("demo --cheat: the cheating provider is caught, slashed and unpaid, and its stage re-runs elsewhere", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-cheat-"));
  try {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "demo", "--cheat", "--json", "--data-dir", dataDir],
      { cwd: root, encoding: "utf8", timeout: 285_000 },
    );
    assert.equal(run.status, 0, `demo --cheat exited ${run.status}: ${run.stderr.slice(-2000)}`);
    const report = JSON.parse(run.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.cheat.caught, true);
    assert.equal(report.cheat.stage, "train");
    assert.equal(report.cheat.paidMicro, "0", "never paid for a wrong result");
    assert.ok(BigInt(report.cheat.slashedMicro) > 0n);
    const train = report.stages.find((s: { name: string }) => s.name === "train");
    assert.equal(train.status, "settled");
    assert.notEqual(train.provider, "fra-gpu-1", "re-run elsewhere");
    assert.ok(train.jurisdiction.split(",").includes("EU"), "still inside the EU");
    const [caught, rerun] = train.verification.checks;
    assert.equal(caught.outcome, "fraud-proven");
    assert.ok(caught.rounds <= 2, "⌈log₂ 4⌉ rounds for 4 steps per segment");
    assert.ok(caught.referee !== undefined && caught.referee !== caught.verifier);
    assert.equal(rerun.outcome, "verified");
    // The requester paid for the verified re-run only: payouts + fees + refund = budget.
    assertBudgetAccountedFor(report.settlement);
    assert.equal(report.audit.ok, true);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the in-process demo settles every stage of the seed pipeline and its stored log passes the audit", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-demo-"));
  try {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "demo", "--in-process", "--json", "--data-dir", dataDir],
      {
        cwd: root,
        encoding: "utf8",
        timeout: 285_000,
      },
    );
    assert.equal(run.status, 0, `demo exited ${run.status}: ${run.stderr}`);
    const report = JSON.parse(run.stdout);
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.stages.map((s: { name: string; status: string }) => [s.name, s.status]),
      [
        ["train", "settled"],
        ["evaluate", "settled"],
        ["qaoa", "settled"],
        ["optimizer", "settled"],
      ],
    );
    const stage = (name: string): DemoStage => report.stages.find((s: DemoStage) => s.name === name);
    assert.ok(stage("train").jurisdiction.split(",").includes("EU"), "training stays in the EU");
    assert.equal(stage("evaluate").city, "Singapore");
    assert.equal(stage("qaoa").city, "Amsterdam");
    assert.match(stage("train").root, /^[0-9a-f]{64}$/);
    // Money adds up: payouts + fees + refund = budget.
    const s = report.settlement;
    const paid = s.payouts.reduce((n: bigint, p: { paidMicro: string }) => n + BigInt(p.paidMicro), 0n);
    assert.equal(paid + BigInt(s.feesMicro) + BigInt(s.refundMicro), BigInt(s.budgetMicro));
    assert.equal(report.audit.ok, true);
    assert.equal(report.audit.events, report.log.events);
    assert.match(report.audit.stateHash, /^[0-9a-f]{64}$/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("error: an unknown command exits 2 and says what exists", () => {
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "launch"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /unknown command 'launch'/);
  assert.match(run.stderr, /demo/);
});

test("error: a demo whose job does not finish within --timeout exits 1 and names the stages still open", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchyard-timeout-"));
  try {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "demo", "--timeout", "1", "--data-dir", dataDir],
      { cwd: root, encoding: "utf8", timeout: 285_000 },
    );
    assert.equal(run.status, 1, run.stderr.slice(-2000));
    assert.match(run.stderr, /the job did not finish within 1 s \(--timeout\); still open:/);
    // The seed pipeline's evaluate stage runs after training: it cannot have settled in a second.
    assert.match(run.stderr, /^ {2}evaluate (pending|matched|running|committed|accepted)/m);
    const json = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "demo", "--timeout", "1", "--json", "--data-dir", dataDir],
      { cwd: root, encoding: "utf8", timeout: 285_000 },
    );
    assert.equal(json.status, 1);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, false);
    assert.ok(
      report.unfinished.some((line: string) => line.startsWith("evaluate ")),
      JSON.stringify(report.unfinished),
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const bad = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "demo", "--timeout", "0"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--timeout is whole seconds, at least 1/);
});
