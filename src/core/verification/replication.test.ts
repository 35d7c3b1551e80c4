import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { sha256Hex } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { isCanary, judgeCanary } from "./canaries.ts";
import { adaptiveReplicationPpm, nextConsecutiveValid, replicationQuorum } from "./replication.ts";

const h = (s: string): Hex32 => sha256Hex(new TextEncoder().encode(s));

test("a strict majority of equal roots decides; dissenters are named for a dispute", () => {
  const out = replicationQuorum(
    [
      { provider: "a", root: h("r") },
      { provider: "b", root: h("bad") },
      { provider: "c", root: h("r") },
    ],
    2,
  );
  assert.deepEqual(out, { kind: "agreed", root: h("r"), agreeing: ["a", "c"], dissenting: ["b"] });
  const split = replicationQuorum(
    [
      { provider: "a", root: h("r") },
      { provider: "b", root: h("s") },
    ],
    2,
  );
  assert.deepEqual(split, { kind: "no-quorum", largest: 1 });
  assert.throws(
    () =>
      replicationQuorum(
        [
          { provider: "a", root: h("r") },
          { provider: "b", root: h("r") },
        ],
        1,
      ),
    {
      code: "MALFORMED",
    },
  );
});

test("BOINC adaptive replication: always below 10, then 1 / consecutive_valid (sched_send.cpp set_trust)", () => {
  assert.equal(adaptiveReplicationPpm(0), 1_000_000);
  assert.equal(adaptiveReplicationPpm(9), 1_000_000);
  assert.equal(adaptiveReplicationPpm(10), 100_000);
  assert.equal(adaptiveReplicationPpm(40), 25_000);
  assert.equal(adaptiveReplicationPpm(3, 3), 333_334, "rounded up, never below 1/n");
  assert.equal(adaptiveReplicationPpm(4, 5), 1_000_000);
  assert.equal(adaptiveReplicationPpm(5, 5), 200_000);
});

test("property: above the threshold the rate is exactly ceil(10^6 / n) and never rises with n", () => {
  fc.assert(
    fc.property(fc.integer({ min: 10, max: 10_000_000 }), (n) => {
      const ppm = adaptiveReplicationPpm(n);
      assert.ok(ppm * n >= 1_000_000 && (ppm - 1) * n < 1_000_000, `${ppm} ppm at ${n}`);
      assert.ok(adaptiveReplicationPpm(n + 1) <= ppm);
    }),
  );
});

test("BOINC's count: +1 only for a valid replicated result, unchanged for a valid single one, 0 on a failure", () => {
  assert.equal(nextConsecutiveValid(40, { valid: true, replicated: true }), 41);
  assert.equal(nextConsecutiveValid(40, { valid: true, replicated: false }), 40);
  assert.equal(nextConsecutiveValid(40, { valid: false, replicated: true }), 0);
  assert.equal(nextConsecutiveValid(40, { valid: false, replicated: false }), 0);
});

test("error: a count or threshold that is not a non-negative integer is MALFORMED", () => {
  for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => adaptiveReplicationPpm(n), { code: "MALFORMED" });
  }
  for (const t of [0, -3, 2.5]) assert.throws(() => adaptiveReplicationPpm(0, t), { code: "MALFORMED" });
});

test("canaries appear at their rate (4 standard errors) and approving one is caught", () => {
  const n = 20_000;
  let k = 0;
  for (let i = 0; i < n; i++) if (isCanary(h("epoch secret"), `j${i}/s`, 50_000)) k++;
  assert.ok(Math.abs(k / n - 0.05) < 4 * Math.sqrt((0.05 * 0.95) / n), `rate ${k / n}`);
  assert.equal(judgeCanary("match").kind, "caught");
  assert.equal(judgeCanary("mismatch").kind, "passed");
});
