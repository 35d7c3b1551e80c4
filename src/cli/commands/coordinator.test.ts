import assert from "node:assert/strict";
import { test } from "node:test";
import { isSwitchyardError } from "../../protocol/errors.ts";
import { parseParams } from "./coordinator.ts";

test("--params reads durations as numbers and amounts as micro-credits", () => {
  assert.deepEqual(parseParams('{"runDeadlinePercent":100,"runGraceMs":2000,"minProviderStake":"5"}'), {
    runDeadlinePercent: 100,
    runGraceMs: 2000,
    minProviderStake: 5n,
  });
});

test("--params takes optional parameters that have no default, such as the progress lease", () => {
  assert.deepEqual(parseParams('{"progressTimeoutMs":10000}'), { progressTimeoutMs: 10_000 });
});

test("error: --params with an unknown name, a wrong type or no object is MALFORMED", () => {
  for (const text of ['{"runGrace":1}', '{"runGraceMs":"2000"}', '{"minProviderStake":-1}', "[1]", "{"]) {
    assert.throws(
      () => parseParams(text),
      (e) => isSwitchyardError(e, "MALFORMED"),
      text,
    );
  }
});
