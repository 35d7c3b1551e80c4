import assert from "node:assert/strict";
import { test } from "node:test";
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

test("BOINC adaptive replication: always below the threshold, then threshold / n; an error resets", () => {
  assert.equal(adaptiveReplicationPpm(0), 1_000_000);
  assert.equal(adaptiveReplicationPpm(9), 1_000_000);
  assert.equal(adaptiveReplicationPpm(10), 1_000_000);
  assert.equal(adaptiveReplicationPpm(40), 250_000);
  assert.equal(nextConsecutiveValid(40, false), 0);
  assert.equal(nextConsecutiveValid(40, true), 41);
});

test("canaries appear at their rate (4 standard errors) and approving one is caught", () => {
  const n = 20_000;
  let k = 0;
  for (let i = 0; i < n; i++) if (isCanary(h("epoch secret"), `j${i}/s`, 50_000)) k++;
  assert.ok(Math.abs(k / n - 0.05) < 4 * Math.sqrt((0.05 * 0.95) / n), `rate ${k / n}`);
  assert.equal(judgeCanary("match").kind, "caught");
  assert.equal(judgeCanary("mismatch").kind, "passed");
});
