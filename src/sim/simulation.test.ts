import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { replay, stateHash } from "../core/index.ts";
import { runSimulation } from "./simulation.ts";

// A failing seed is printed in the failure message; pin it here as a permanent regression case,
// or replay it alone with SIM_SEED=<seed> npm test.
const regressionSeeds: number[] = [];
const fromEnv = process.env["SIM_SEED"];
const seeds = fromEnv !== undefined ? [Number(fromEnv)] : [1, 2, 3, 0xc0ffee, ...regressionSeeds];

describe("seeded simulation of the core", () => {
  for (const seed of seeds) {
    test(`seed ${seed}: invariants hold after every event and rejections change nothing`, () => {
      const report = runSimulation({ seed, events: 1_200 });
      // The run must exercise the machine, not just bounce off it.
      assert.ok(report.accepted > 500, `accepted ${report.accepted}`);
      assert.ok(report.settledStages > 5, `settled ${report.settledStages}`);
      for (const code of ["NONCE_REPLAYED", "BAD_SIGNATURE", "INSUFFICIENT_FUNDS"]) {
        assert.ok((report.rejected[code] ?? 0) > 0, `the run should include ${code} rejections`);
      }
    });
  }

  test("the same seed twice ends in the same state hash; another seed does not", () => {
    const a = runSimulation({ seed: 42, events: 3_000, fullChecks: false, checkRejections: false });
    const b = runSimulation({ seed: 42, events: 3_000, fullChecks: false, checkRejections: false });
    const c = runSimulation({ seed: 43, events: 3_000, fullChecks: false, checkRejections: false });
    assert.equal(a.stateHash, b.stateHash);
    assert.deepEqual(a.rejected, b.rejected);
    assert.notEqual(a.stateHash, c.stateHash);
  });

  test("property: replaying any sampled prefix of the log equals the state the run had there", () => {
    const run = runSimulation({ seed: 7, events: 2_000, fullChecks: false, checkRejections: false });
    assert.ok(run.samples.length >= 4);
    for (const sample of run.samples) {
      const prefix = run.log.filter((e) => e.seq <= sample.seq);
      assert.equal(stateHash(replay(prefix)), sample.stateHash, `prefix up to seq ${sample.seq}`);
    }
    assert.equal(stateHash(replay(run.log)), run.stateHash);
  });
});
