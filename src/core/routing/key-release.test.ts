import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isSwitchyardError } from "../../protocol/errors.ts";
import {
  type KeyCandidate,
  type KeyReleaseStage,
  keyReleaseDecision,
  planKeyRelease,
} from "./key-release.ts";

const pool = ["DE", "FR", "EU", "US", "CH", "SG", "GB"] as const;
const jurisdictions = fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 });
const allowedSet = fc.option(fc.uniqueArray(fc.constantFrom(...pool), { maxLength: 3 }), { nil: undefined });
const node = (id: string) =>
  fc.record({
    id: fc.constant(id),
    jurisdictions,
    resourceClass: fc.constantFrom("gpu", "cpu", "relay"),
  });
const inside = (allowed: readonly string[] | undefined, n: KeyCandidate) =>
  allowed === undefined || allowed.length === 0 || allowed.some((j) => n.jurisdictions.includes(j));

/** Random pipelines: stage i may read any earlier stages; providers from a shared node list (one
 * node may run several stages); relays are other nodes. */
const scenario = fc
  .record({
    nodes: fc
      .array(fc.nat(), { minLength: 1, maxLength: 8 })
      .chain((xs) => fc.tuple(...xs.map((_, i) => node(`n${i}`)))),
    relays: fc.array(fc.nat(), { maxLength: 4 }).chain((xs) => fc.tuple(...xs.map((_, i) => node(`r${i}`)))),
    stageCount: fc.integer({ min: 1, max: 6 }),
  })
  .chain(({ nodes, relays, stageCount }) =>
    fc
      .tuple(
        ...Array.from({ length: stageCount }, (_, i) =>
          fc.record({
            allowed: allowedSet,
            after: fc.subarray(Array.from({ length: i }, (_, j) => `s${j}`)),
            provider: fc.option(fc.constantFrom(...nodes), { nil: undefined }),
          }),
        ),
      )
      .map((specs) => ({
        relays: relays as KeyCandidate[],
        stages: specs.map(
          (s, i): KeyReleaseStage => ({
            name: `s${i}`,
            jurisdictions: s.allowed,
            after: s.after,
            provider: s.provider,
          }),
        ),
      })),
  );

const fra: KeyCandidate = { id: "fra", jurisdictions: ["DE", "EU"], resourceClass: "gpu" };
const par: KeyCandidate = { id: "par", jurisdictions: ["EU", "FR"], resourceClass: "gpu" };
const nyc: KeyCandidate = { id: "nyc", jurisdictions: ["US"], resourceClass: "gpu" };
const zrh: KeyCandidate = { id: "zrh", jurisdictions: ["CH"], resourceClass: "relay" };
const ams: KeyCandidate = { id: "ams", jurisdictions: ["EU", "NL"], resourceClass: "relay" };

describe("key release: who may hold a stage's key", () => {
  it("an EU-only stage's key goes to EU providers and never to a US provider or a relay, even an EU relay", () => {
    assert.deepEqual(keyReleaseDecision(["EU"], fra, "producer"), {
      release: true,
      reason: "inside-jurisdictions",
    });
    assert.deepEqual(keyReleaseDecision(["EU"], nyc, "reader"), {
      release: false,
      reason: "outside-jurisdictions",
    });
    assert.deepEqual(keyReleaseDecision(["EU"], zrh, "relay"), { release: false, reason: "relay" });
    assert.deepEqual(keyReleaseDecision(["EU"], ams, "relay"), { release: false, reason: "relay" });
    // A node registered as a relay is refused in any role; a gpu node acting as relay is refused too.
    assert.deepEqual(keyReleaseDecision(undefined, ams, "reader"), { release: false, reason: "relay" });
    assert.deepEqual(keyReleaseDecision(undefined, fra, "relay"), { release: false, reason: "relay" });
  });

  it("no jurisdictions (absent or empty) means any provider may hold the key", () => {
    assert.deepEqual(keyReleaseDecision(undefined, nyc, "reader"), { release: true, reason: "unrestricted" });
    assert.deepEqual(keyReleaseDecision([], nyc, "reader"), { release: true, reason: "unrestricted" });
  });

  it("a pipeline: the producer and its EU readers get the key, a US reader and the relays are refused", () => {
    const plan = planKeyRelease({
      stages: [
        { name: "train", jurisdictions: ["EU"], after: [], provider: fra },
        { name: "eval", jurisdictions: ["EU"], after: ["train"], provider: par },
        { name: "report", after: ["train", "eval"], provider: nyc },
      ],
      relays: [zrh],
    });
    assert.deepEqual(plan, [
      {
        stage: "train",
        recipients: ["fra", "par"],
        refused: [
          { node: "nyc", role: "reader", reason: "outside-jurisdictions" },
          { node: "zrh", role: "relay", reason: "relay" },
        ],
      },
      {
        stage: "eval",
        recipients: ["par"],
        refused: [
          { node: "nyc", role: "reader", reason: "outside-jurisdictions" },
          { node: "zrh", role: "relay", reason: "relay" },
        ],
      },
      { stage: "report", recipients: ["nyc"], refused: [{ node: "zrh", role: "relay", reason: "relay" }] },
    ]);
  });

  it("a provider that is also listed as a relay of the pipeline gets no key through its provider role", () => {
    const [plan] = planKeyRelease({ stages: [{ name: "a", after: [], provider: fra }], relays: [fra] });
    assert.deepEqual(plan?.recipients, []);
  });

  it("property: a node outside the allowed set never gets the key, a relay never does, and everyone else who reads does", () => {
    fc.assert(
      fc.property(scenario, ({ stages, relays }) => {
        const plans = planKeyRelease({ stages, relays });
        const relayIds = new Set(relays.map((r) => r.id));
        const nodesById = new Map<string, KeyCandidate>();
        for (const s of stages) if (s.provider !== undefined) nodesById.set(s.provider.id, s.provider);
        plans.forEach((plan, i) => {
          const stage = stages[i]!;
          assert.equal(plan.stage, stage.name);
          const readers = stages.filter((s) => s.after.includes(stage.name)).flatMap((s) => s.provider ?? []);
          const participants = [...(stage.provider === undefined ? [] : [stage.provider]), ...readers];
          for (const id of plan.recipients) {
            const n = nodesById.get(id)!;
            assert.ok(inside(stage.jurisdictions, n), `${id} is outside ${stage.jurisdictions}`);
            assert.notEqual(n.resourceClass, "relay");
            assert.ok(!relayIds.has(id));
            assert.ok(
              participants.some((p) => p.id === id),
              "only the producer and readers",
            );
          }
          // Completeness: the rule is not "refuse everyone".
          for (const p of participants) {
            if (inside(stage.jurisdictions, p) && p.resourceClass !== "relay") {
              assert.ok(plan.recipients.includes(p.id), `${p.id} should get ${stage.name}'s key`);
            }
          }
          for (const r of relays)
            assert.ok(plan.refused.some((x) => x.node === r.id && x.reason === "relay"));
        });
      }),
      { numRuns: 500 },
    );
  });

  it("property: one decision releases exactly when the node is inside and not a relay", () => {
    fc.assert(
      fc.property(
        allowedSet,
        node("x"),
        fc.constantFrom("producer", "reader", "relay") as fc.Arbitrary<"producer" | "reader" | "relay">,
        (allowed, n, role) => {
          const d = keyReleaseDecision(allowed, n, role);
          assert.equal(d.release, inside(allowed, n) && role !== "relay" && n.resourceClass !== "relay");
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("error: duplicate stages or an unknown dependency are INVALID_JOB", () => {
    assert.throws(
      () =>
        planKeyRelease({
          stages: [
            { name: "a", after: [] },
            { name: "a", after: [] },
          ],
          relays: [],
        }),
      (e: unknown) => isSwitchyardError(e, "INVALID_JOB"),
    );
    assert.throws(
      () => planKeyRelease({ stages: [{ name: "a", after: ["b"] }], relays: [] }),
      (e: unknown) => isSwitchyardError(e, "INVALID_JOB"),
    );
  });
});
