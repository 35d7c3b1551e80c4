/**
 * The joint plan against brute force: on small random books and pipelines (dependencies, latency
 * bounds and loops to earlier stages, jurisdictions, replicas, capacity 1–3), every combination of
 * offers is tried through the live matcher itself (`findOffer` with that offer planned, each stage
 * placed in order with its predecessors where the combination put them), and the cheapest feasible
 * total must equal the plan's — which is proven exact and never breaks a jurisdiction.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { JobId, PublicKeyHex } from "../../protocol/ids.ts";
import type { StageSpec } from "../../protocol/messages.ts";
import { city, onboardProviders, type SimProvider, trainStage } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import type { Job, Stage, State } from "../state.ts";
import { planJob } from "./joint-plan.ts";
import { findOffer, proximityBounds } from "./match.ts";
import { searchPlan } from "./plan-search.ts";

const places = [
  ["Amsterdam", "NL", ["EU"], 52.3676, 4.9041],
  ["Paris", "FR", ["EU"], 48.8566, 2.3522],
  ["Singapore", "SG", [], 1.3521, 103.8198],
  ["New York", "US", [], 40.7128, -74.006],
] as const;
const classes = ["cpu", "gpu"] as const;

const providerArb = fc.record({
  place: fc.integer({ min: 0, max: places.length - 1 }),
  cls: fc.constantFrom(...classes),
  price: fc.integer({ min: 10, max: 100 }),
  capacity: fc.integer({ min: 1, max: 3 }),
});

/** Mostly absent: instances with every constraint on every stage are rarely feasible. */
const sometimes = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: arb, weight: 1 });

const stageArb = fc.record({
  cls: fc.constantFrom(...classes),
  units: fc.integer({ min: 1, max: 2 }),
  seconds: fc.integer({ min: 10, max: 100 }),
  afterMask: fc.integer({ min: 0, max: 7 }),
  jurisdiction: sometimes(fc.constantFrom("EU", "SG", "US")),
  latency: sometimes(fc.record({ to: fc.nat(), maxRttMs: fc.integer({ min: 20, max: 300 }) })),
  loop: sometimes(
    fc.record({
      with: fc.nat(),
      iterations: fc.integer({ min: 1, max: 100 }),
      maxRttMs: fc.integer({ min: 20, max: 400 }),
    }),
  ),
  replicated: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
});

type StageDraw = typeof stageArb extends fc.Arbitrary<infer T> ? T : never;

/** Stage specs that refer only to earlier stages, so their order is a placement order. */
function specsOf(draws: readonly StageDraw[]): StageSpec[] {
  const specs: StageSpec[] = [];
  draws.forEach((d, i) => {
    const after = specs.filter((_, j) => (d.afterMask >> j) & 1).map((s) => s.name);
    const earlier = specs.filter((s) => !s.name.includes("~"));
    const loopWith =
      d.loop === undefined || earlier.length === 0 ? undefined : earlier[d.loop.with % earlier.length]!;
    const latencyTo = d.latency === undefined || i === 0 ? undefined : specs[d.latency.to % specs.length]!;
    const name = `s${i}`;
    const spec = trainStage({
      name,
      program: `p${i}`,
      resourceClass: d.cls,
      units: d.units,
      seconds: d.seconds,
      maxPricePerUnitSecond: 100n,
      after: loopWith === undefined ? after : after.filter((a) => a !== loopWith.name),
      ...(d.jurisdiction === undefined ? {} : { jurisdictions: [d.jurisdiction] }),
      ...(latencyTo === undefined
        ? {}
        : { latency: { to: { stage: latencyTo.name }, maxRttMs: d.latency!.maxRttMs } }),
      ...(loopWith === undefined || loopWith.after.includes(name)
        ? {}
        : { loop: { with: loopWith.name, iterations: d.loop!.iterations, maxRttMs: d.loop!.maxRttMs } }),
    });
    specs.push(spec);
    // A replica: same spec, distinct provider required (replicate:2 without its verification flow).
    if (d.replicated) specs.push({ ...spec, name: `${name}~2` });
  });
  return specs;
}

function jobOf(requester: PublicKeyHex, specs: readonly StageSpec[], valueOfTimePerSecond: number): Job {
  const stages = new Map<string, Stage>();
  for (const spec of specs) {
    const group = spec.name.replace(/~2$/, "");
    const replicated = specs.some((s) => s.name === `${group}~2`);
    stages.set(spec.name, {
      spec,
      status: "pending",
      reserve: 0n,
      attempts: 0,
      timedOut: [],
      settlements: 0,
      ...(replicated ? { replication: { group, k: 2 } } : {}),
    });
  }
  return {
    id: "j".repeat(64) as JobId,
    requester,
    budget: 0n,
    valueOfTimePerSecond,
    submittedAt: 0,
    stages,
    status: "open",
  };
}

/** The cheapest feasible total over every combination, each stage placed in order by the live matcher. */
function bruteForce(state: State, job: Job): number | null {
  const stages = [...job.stages.values()];
  let best: number | null = null;
  const visit = (i: number, acc: number): void => {
    if (i === stages.length) {
      if (best === null || acc < best) best = acc;
      return;
    }
    const stage = stages[i]!;
    const bounds = proximityBounds(state, job, stage)!;
    for (const offer of state.offers.values()) {
      const result = findOffer(state, job, stage, bounds, { planned: offer.id });
      if (!result.ok || result.explanation.planned !== true) continue;
      stage.provider = offer.provider;
      offer.used += stage.spec.units;
      visit(i + 1, acc + result.explanation.cost!.total);
      offer.used -= stage.spec.units;
      delete stage.provider;
    }
  };
  visit(0, 0);
  return best;
}

test("property: the plan's total is the brute-force optimum, and jurisdictions hold", () => {
  fc.assert(
    fc.property(
      fc.array(providerArb, { minLength: 3, maxLength: 6 }),
      fc.array(stageArb, { minLength: 2, maxLength: 3 }),
      fc.constantFrom(0, 100, 10_000, 100_000),
      (drawn, stageDraws, valueOfTime) => {
        const net = new LocalNetwork();
        const providers: SimProvider[] = drawn.map((p, i) => {
          const [cityName, country, blocs, lat, lon] = places[p.place]!;
          return city(
            `plan-p${i}`,
            cityName,
            country,
            [...blocs],
            lat,
            lon,
            p.cls,
            p.capacity,
            10_000,
            BigInt(p.price),
          );
        });
        onboardProviders(net, providers);
        const job = jobOf(simIdentity("plan-requester").publicKey, specsOf(stageDraws), valueOfTime);
        const plan = planJob(net.state, job)!;
        const optimum = bruteForce(net.state, job);
        assert.equal(plan.exact, true);
        if (optimum === null) {
          assert.ok(plan.stages.size < job.stages.size, "no feasible combination: no full plan");
          return;
        }
        assert.equal(plan.stages.size, job.stages.size);
        assert.equal(plan.total, optimum);
        assert.ok(plan.greedyTotal === undefined || plan.greedyTotal >= plan.total);
        for (const [name, offerId] of plan.stages) {
          const wanted = job.stages.get(name)!.spec.jurisdictions;
          const held = net.state.nodes.get(net.state.offers.get(offerId)!.provider)!.jurisdictions;
          assert.ok(
            wanted === undefined || wanted.some((j) => held.includes(j)),
            `${name} outside ${wanted}`,
          );
        }
      },
    ),
    { numRuns: 150 },
  );
});

test("a node limit too small to finish keeps the best plan found and says it is not proven", () => {
  // Two stages whose costs interact: greedy takes 1 then pays 10 for stage 1; the optimum is 2 + 1.
  const alone = [
    [1, 2],
    [1, 1],
  ];
  const problem = {
    alone,
    feasible: () => true,
    cost: (i: number, c: number, assign: readonly number[]) =>
      i === 0 ? alone[0]![c]! : assign[0] === 0 ? 10 : alone[1]![c]!,
  };
  const full = searchPlan(problem, 1_000);
  assert.deepEqual([full.assign, full.total, full.greedyTotal, full.exact], [[1, 0], 3, 11, true]);
  const cut = searchPlan(problem, 0);
  assert.equal(cut.exact, false);
  assert.ok(cut.total <= 11, "never worse than greedy");
});
