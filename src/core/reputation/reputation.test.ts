import assert from "node:assert/strict";
import { test } from "node:test";
import { emptyReputation, recordOutcome, reputationKey, riskPpm } from "./reputation.ts";

test("a newcomer has full risk; successes lower it, never to 0", () => {
  assert.equal(riskPpm(emptyReputation), 1_000_000);
  assert.equal(riskPpm({ successes: 99, failures: 0, timeouts: 0 }), 10_000);
  assert.ok(riskPpm({ successes: 1_000_000_000, failures: 0, timeouts: 0 }) >= 1);
});

test("a proven failure weighs ten successes, a timeout one", () => {
  let r = emptyReputation;
  for (let i = 0; i < 89; i++) r = recordOutcome(r, "success");
  assert.equal(riskPpm(r), 11_112); // 1/90, rounded up
  const failed = recordOutcome(r, "failure");
  assert.equal(riskPpm(failed), Math.ceil((11 * 1e6) / 100));
  const late = recordOutcome(r, "timeout");
  assert.equal(riskPpm(late), Math.ceil((2 * 1e6) / 91));
});

test("reputation is per (provider, workload class)", () => {
  assert.notEqual(reputationKey("p", "gpu:a100"), reputationKey("p", "cpu"));
});
