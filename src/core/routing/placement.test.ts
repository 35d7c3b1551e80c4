import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type CompiledPipeline,
  compilePipeline,
  objective,
  type Pipeline,
  type RoutingNetwork,
  violations,
} from "./network.ts";
import { placePipeline } from "./place-pipeline.ts";
import { buildProviderIndex, policies } from "./placement.ts";

const siteKinds = [["DE", "EU"], ["FR", "EU"], ["US"], ["SG"], ["CH"]] as const;

const networkArb = fc
  .record({
    sites: fc.array(
      fc.record({
        kind: fc.integer({ min: 0, max: siteKinds.length - 1 }),
        x: fc.integer({ min: 0, max: 300 }),
        y: fc.integer({ min: 0, max: 300 }),
        bw: fc.integer({ min: 1_000_000, max: 1_000_000_000 }),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    providers: fc.array(
      fc.record({
        site: fc.nat(),
        gpu: fc.boolean(),
        capacity: fc.integer({ min: 1, max: 3 }),
        price: fc.integer({ min: 1, max: 2_000 }),
        throughput: fc.integer({ min: 1, max: 8 }),
        queueMs: fc.integer({ min: 0, max: 5_000 }),
        failureBps: fc.integer({ min: 0, max: 2_000 }),
        used: fc.integer({ min: 0, max: 2 }),
      }),
      { minLength: 1, maxLength: 14 },
    ),
  })
  .map(({ sites, providers }) => {
    const network: RoutingNetwork = {
      sites: sites.map((s, i) => ({
        name: `site${i}`,
        jurisdictions: siteKinds[s.kind]!,
        bandwidthBytesPerSecond: s.bw,
      })),
      providers: providers.map((p, id) => ({
        id: 1000 - id * 7,
        site: p.site % sites.length,
        resourceClass: p.gpu ? "gpu" : "cpu",
        capacity: p.capacity,
        pricePerUnitSecond: p.price,
        throughput: p.throughput,
        queueMs: p.queueMs,
        failureBps: p.failureBps,
      })),
      rttMs: (a, b) => 2 + Math.hypot(sites[a]!.x - sites[b]!.x, sites[a]!.y - sites[b]!.y),
    };
    const free = providers.map((p) => Math.max(0, p.capacity - p.used));
    return { network, free };
  });

const pipelineArb = (siteCount: number) =>
  fc
    .array(
      fc.record({
        gpu: fc.boolean(),
        units: fc.integer({ min: 1, max: 2 }),
        work: fc.integer({ min: 1, max: 3_600 }),
        from: fc.integer({ min: -1, max: 5 }),
        bytes: fc.integer({ min: 0, max: 5_000_000_000 }),
        jurisdiction: fc.option(fc.constantFrom("EU", "US", "SG", "DE"), { nil: undefined }),
        loop: fc.option(fc.record({ with: fc.nat(), iterations: fc.integer({ min: 1, max: 100 }) }), {
          nil: undefined,
        }),
        bound: fc.option(fc.record({ to: fc.nat(), ms: fc.integer({ min: 5, max: 400 }) }), {
          nil: undefined,
        }),
        verificationBps: fc.integer({ min: 0, max: 10_000 }),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .chain((stages) =>
      fc
        .record({
          source: fc.integer({ min: 0, max: siteCount - 1 }),
          home: fc.integer({ min: 0, max: siteCount - 1 }),
          vot: fc.integer({ min: 0, max: 5_000 }),
        })
        .map(
          ({ source, home, vot }): Pipeline => ({
            sourceSite: source,
            homeSite: home,
            valueOfTimePerSecond: vot,
            stages: stages.map((s, i) => ({
              name: `s${i}`,
              resourceClass: s.gpu ? "gpu" : "cpu",
              units: s.units,
              work: s.work,
              inputs: [{ from: s.from < 0 || i === 0 ? null : `s${s.from % i}`, bytes: s.bytes }],
              ...(s.jurisdiction === undefined ? {} : { jurisdictions: [s.jurisdiction] }),
              ...(s.loop === undefined || i === 0
                ? {}
                : { loop: { with: `s${s.loop.with % i}`, iterations: s.loop.iterations } }),
              ...(s.bound === undefined || i === 0
                ? {}
                : { latency: { to: `s${s.bound.to % i}`, maxRttMs: s.bound.ms } }),
              verificationBps: s.verificationBps,
            })),
          }),
        ),
    );

const caseArb = networkArb.chain(({ network, free }) =>
  pipelineArb(network.sites.length).map((pipeline) => ({ network, free, pipeline })),
);

/** Every assignment, by enumeration: the reference optimum for tiny cases. */
function bruteForce(c: CompiledPipeline, free: readonly number[]): number {
  const n = c.pipeline.stages.length;
  const k = c.network.providers.length;
  let best = Number.POSITIVE_INFINITY;
  const a = new Array<number>(n).fill(0);
  const walk = (i: number) => {
    if (i === n) {
      if (violations(c, a, (p) => free[p]!).length === 0) best = Math.min(best, objective(c, a));
      return;
    }
    for (let p = 0; p < k; p++) {
      a[i] = p;
      walk(i + 1);
    }
  };
  walk(0);
  return best;
}

describe("pipeline placement", () => {
  it("property: no policy ever breaks jurisdiction, class, capacity or a latency bound", () => {
    fc.assert(
      fc.property(caseArb, ({ network, free, pipeline }) => {
        const c = compilePipeline(network, pipeline);
        const index = buildProviderIndex(network);
        for (const policy of policies) {
          const r = placePipeline(c, index, policy, free);
          if (r.ok)
            assert.deepEqual(
              violations(c, r.assignment, (p) => free[p]!),
              [],
              policy,
            );
        }
      }),
      { numRuns: 300 },
    );
  });

  it("property: the same input gives the same placement and explanation", () => {
    fc.assert(
      fc.property(caseArb, ({ network, free, pipeline }) => {
        for (const policy of policies) {
          const a = placePipeline(
            compilePipeline(network, pipeline),
            buildProviderIndex(network),
            policy,
            free,
          );
          const b = placePipeline(
            compilePipeline(network, pipeline),
            buildProviderIndex(network),
            policy,
            free,
          );
          assert.deepEqual(a, b);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("property: exact ≤ market ≤ every baseline that found a placement… and exact equals enumeration", () => {
    fc.assert(
      fc.property(caseArb, ({ network, free, pipeline }) => {
        const c = compilePipeline(network, pipeline);
        const index = buildProviderIndex(network);
        const exact = placePipeline(c, index, "exact", free);
        const market = placePipeline(c, index, "market", free);
        const reference = bruteForce(c, free);
        if (!exact.ok) {
          assert.equal(reference, Number.POSITIVE_INFINITY);
          assert.equal(market.ok, false);
          return;
        }
        assert.equal(exact.objective, reference);
        if (market.ok) assert.ok(exact.objective <= market.objective);
        for (const policy of ["single-region", "nearest", "price-only"] as const) {
          const r = placePipeline(c, index, policy, free);
          if (r.ok) assert.ok(exact.objective <= r.objective, policy);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("property: on one stage the indexed market placer finds the optimum (the index never prunes it)", () => {
    fc.assert(
      fc.property(caseArb, ({ network, free, pipeline }) => {
        const single: Pipeline = {
          ...pipeline,
          stages: [{ ...pipeline.stages[0]!, inputs: [{ from: null, bytes: 1e9 }] }],
        };
        const c = compilePipeline(network, single);
        const market = placePipeline(c, buildProviderIndex(network), "market", free);
        const reference = bruteForce(c, free);
        assert.equal(market.ok ? market.objective : Number.POSITIVE_INFINITY, reference);
      }),
      { numRuns: 300 },
    );
  });

  it("explains each stage: the runner-up's terms minus the chosen one's, and the term that decided", () => {
    const network: RoutingNetwork = {
      sites: [
        { name: "Frankfurt", jurisdictions: ["DE", "EU"], bandwidthBytesPerSecond: 125_000_000 },
        { name: "Singapore", jurisdictions: ["SG"], bandwidthBytesPerSecond: 125_000_000 },
      ],
      providers: [
        {
          id: 1,
          site: 0,
          resourceClass: "gpu",
          capacity: 1,
          pricePerUnitSecond: 600,
          throughput: 1,
          queueMs: 0,
          failureBps: 0,
        },
        {
          id: 2,
          site: 1,
          resourceClass: "gpu",
          capacity: 1,
          pricePerUnitSecond: 500,
          throughput: 1,
          queueMs: 0,
          failureBps: 0,
        },
      ],
      rttMs: () => 150,
    };
    const pipeline: Pipeline = {
      sourceSite: 0,
      homeSite: 0,
      valueOfTimePerSecond: 1_000,
      stages: [
        {
          name: "train",
          resourceClass: "gpu",
          units: 1,
          work: 60,
          inputs: [{ from: null, bytes: 10_000_000_000 }],
          verificationBps: 0,
        },
      ],
    };
    const c = compilePipeline(network, pipeline);
    const r = placePipeline(c, buildProviderIndex(network), "market", [1, 1]);
    assert.ok(r.ok);
    const [train] = r.explanation;
    assert.equal(train!.provider, 0);
    assert.equal(train!.runnerUp?.provider, 1);
    assert.equal(train!.runnerUp?.decidedBy, "delay");
    assert.equal(train!.runnerUp?.difference.compute, -6_000);
    // price-only takes the cheaper Singapore GPU and pays 80 s of transfer for it
    const cheap = placePipeline(c, buildProviderIndex(network), "price-only", [1, 1]);
    assert.ok(cheap.ok && cheap.assignment[0] === 1 && cheap.objective > r.objective);
  });

  it("error: an input from a later or unknown stage is INVALID_JOB", () => {
    const network: RoutingNetwork = { sites: [], providers: [], rttMs: () => 1 };
    const stage = { resourceClass: "cpu", units: 1, work: 1, verificationBps: 0 };
    assert.throws(
      () =>
        compilePipeline(network, {
          sourceSite: 0,
          homeSite: 0,
          valueOfTimePerSecond: 0,
          stages: [
            { ...stage, name: "a", inputs: [{ from: "b", bytes: 1 }] },
            { ...stage, name: "b", inputs: [] },
          ],
        }),
      { code: "INVALID_JOB" },
    );
  });
});
