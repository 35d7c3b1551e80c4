import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isSwitchyardError } from "../protocol/errors.ts";
import type { Cid } from "../protocol/ids.ts";
import { openStageJournal, planStage, type StageRecord, type StageResult } from "./journal.ts";

const jobId = "a".repeat(64);
const result: StageResult = { root: "b".repeat(64), output: "c".repeat(64) as Cid, steps: 12 };
const base = { jobId, stage: "train", program: "mlp-train" };
const record = (phase: StageRecord["phase"], withResult = false): StageRecord => ({
  ...base,
  phase,
  ...(withResult ? { result } : {}),
  updatedAt: 0,
});

let root = "";
let dirs = 0;
const fresh = () => join(root, `journal-${++dirs}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), "switchyard-journal-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("planStage: the reconnect rule", () => {
  test("a new matched stage is started and computed", () => {
    assert.deepEqual(planStage(undefined, "matched", false), { start: true, result: undefined });
  });

  test("a stage the coordinator shows running is not started again; without a result it is computed", () => {
    assert.deepEqual(planStage(record("started"), "running", false), { start: false, result: undefined });
    assert.deepEqual(planStage(undefined, "running", false), { start: false, result: undefined });
  });

  test("a start that never became durable (still matched) is sent again", () => {
    assert.deepEqual(planStage(record("started"), "matched", false), { start: true, result: undefined });
  });

  test("a computed result whose commit was not acknowledged is committed again, never recomputed", () => {
    assert.deepEqual(planStage(record("computed", true), "running", false), { start: false, result });
  });

  test("work in flight in this process is not started a second time", () => {
    assert.equal(planStage(undefined, "matched", true), undefined);
    assert.equal(planStage(record("computed", true), "running", true), undefined);
  });
});

describe("the journal on disk", () => {
  test("records survive a reopen, with the result kept by later phases", async () => {
    const dir = fresh();
    const journal = await openStageJournal(dir);
    await journal.record({ ...base, phase: "started" });
    await journal.record({ ...base, phase: "computed", result });
    await journal.record({ ...base, phase: "committed" });
    const reopened = await openStageJournal(dir);
    const got = reopened.get(jobId, "train");
    assert.equal(got?.phase, "committed");
    assert.deepEqual(got?.result, result);
    assert.deepEqual(await readdir(dir), [`${jobId}.train.json`]);
  });

  test("a phase never goes backwards: a late 'started' does not undo 'computed'", async () => {
    const journal = await openStageJournal(fresh());
    await journal.record({ ...base, phase: "computed", result });
    const after = await journal.record({ ...base, phase: "started" });
    assert.equal(after.phase, "computed");
    assert.equal(journal.get(jobId, "train")?.phase, "computed");
  });

  test("a stage given back after it was abandoned reopens, keeping its result", async () => {
    const journal = await openStageJournal(fresh());
    await journal.record({ ...base, phase: "computed", result });
    await journal.record({ ...base, phase: "abandoned" });
    const reopened = await journal.record({ ...base, phase: "computed" });
    assert.equal(reopened.phase, "computed");
    assert.deepEqual(reopened.result, result);
  });

  test("concurrent updates of one stage land in order", async () => {
    const dir = fresh();
    const journal = await openStageJournal(dir);
    await Promise.all([
      journal.record({ ...base, phase: "started" }),
      journal.record({ ...base, phase: "computed", result }),
      journal.record({ ...base, phase: "committed" }),
    ]);
    assert.equal((await openStageJournal(dir)).get(jobId, "train")?.phase, "committed");
  });

  test("a stray temporary file from a crash is removed on open", async () => {
    const dir = fresh();
    await (await openStageJournal(dir)).record({ ...base, phase: "started" });
    await writeFile(join(dir, `${jobId}.train.json.123.tmp`), "{half");
    const journal = await openStageJournal(dir);
    assert.equal(journal.get(jobId, "train")?.phase, "started");
    assert.deepEqual(await readdir(dir), [`${jobId}.train.json`]);
  });

  test("error: an unreadable record is CORRUPTED naming the file, not silently forgotten", async () => {
    const dir = fresh();
    await (await openStageJournal(dir)).record({ ...base, phase: "started" });
    await writeFile(join(dir, `${jobId}.train.json`), "{not json");
    await assert.rejects(
      openStageJournal(dir),
      (e: unknown) => isSwitchyardError(e, "CORRUPTED") && e.message.includes(`${jobId}.train.json`),
    );
  });
});
