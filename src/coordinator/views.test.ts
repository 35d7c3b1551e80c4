import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { stateHash } from "../core/index.ts";
import {
  accountSchema,
  assignmentSchema,
  jobViewSchema,
  marketSchema,
  nodeViewSchema,
  rttPredictionSchema,
  statusSchema,
} from "../protocol/api.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { predictRttMs } from "../protocol/geo.ts";
import type { JobId, PublicKeyHex } from "../protocol/ids.ts";
import { must, onboardProviders, worldProviders } from "../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../sim/local-network.ts";
import { StageStatusMirror } from "./stage-changes.ts";
import {
  accountView,
  jobListLimit,
  jobView,
  jobViews,
  marketView,
  nodeViews,
  rttView,
  statusView,
} from "./views.ts";
import { assignmentsOf } from "./work-views.ts";

const requester = simIdentity("requester");
const [fra, , , sin, nyc, sao] = worldProviders;
const endpoint = "http://fra-gpu-1.example:8080/";

function network(): LocalNetwork {
  const net = new LocalNetwork({ params: { verificationWindowMs: 0 } });
  onboardProviders(net, worldProviders.slice(0, 3));
  // Frankfurt re-registers nothing, but Singapore and São Paulo come with endpoints and offers.
  for (const p of [sin!, nyc!, sao!]) {
    must(net.send(p.who, "faucet", { amount: 100_000_000n }));
    must(net.send(p.who, "registerNode", p === sin ? { ...p.node, endpoint } : p.node));
    must(net.send(p.who, "bond", { amount: 50_000_000n }));
    must(
      net.send(p.who, "postOffer", {
        resourceClass: p.node.resourceClass,
        capacity: p.node.capacity,
        pricePerUnitSecond: p.pricePerUnitSecond,
      }),
    );
  }
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

const stage = (name: string, after: string[] = []) => ({
  name,
  program: "mlp-train",
  resourceClass: "gpu",
  units: 1,
  seconds: 10,
  maxPricePerUnitSecond: 1_000n,
  after,
  jurisdictions: ["SG"],
});

function submitJob(net: LocalNetwork, stages: ReturnType<typeof stage>[]): JobId {
  const before = new Set(net.state.jobs.keys());
  must(net.send(requester, "submitJob", { stages, budget: 10_000_000n } as never));
  return [...net.state.jobs.keys()].find((k) => !before.has(k))!;
}

describe("views are pure functions of the state, shaped as the API says", () => {
  test("status, nodes, market, jobs, accounts and assignments match their schemas", () => {
    const net = network();
    const job = submitJob(net, [stage("a"), stage("b", ["a"])]);
    const status = statusView(net.state, {
      coordinator: requester.publicKey,
      head: { seq: net.state.seq, hash: net.headHash },
      stateHash: stateHash(net.state),
      store: "memory",
      leader: true,
    });
    assert.deepEqual(statusSchema.parse(status), status);
    assert.equal(status.params["minProviderStake"], "1000000", "amounts in params are decimal strings");
    for (const node of nodeViews(net.state, () => undefined))
      assert.deepEqual(nodeViewSchema.parse(node), node);
    assert.deepEqual(marketSchema.parse(marketView(net.state)), marketView(net.state));
    for (const view of jobViews(net.state)) assert.deepEqual(jobViewSchema.parse(view), view);
    // Stage a was placed by the job's joint plan (a and b), and its view says so.
    const placement = jobView(net.state, net.state.jobs.get(job)!).stages[0]!.placement!;
    assert.equal(placement.planned, true);
    assert.equal(placement.plan?.exact, true);
    const account = accountView(net.state, requester.publicKey);
    assert.deepEqual(accountSchema.parse(account), account);
    const assignments = assignmentsOf(net.state, sin!.who.publicKey);
    assert.equal(assignments.length, 1);
    assert.deepEqual(assignmentSchema.parse(assignments[0]), assignments[0]);
    assert.equal(assignments[0]!.jobId, job);
  });

  test("nodes show stake, offers and the last-seen time given to them", () => {
    const net = network();
    const seen = new Map<PublicKeyHex, number>([[sin!.who.publicKey, 1234]]);
    const nodes = nodeViews(net.state, (id) => seen.get(id));
    assert.equal(nodes.length, 6);
    const singapore = nodes.find((n) => n.id === sin!.who.publicKey)!;
    assert.equal(singapore.lastSeen, 1234);
    assert.equal(singapore.endpoint, endpoint);
    assert.equal(singapore.stake, "50000000");
    assert.equal(singapore.offers.length, 1);
    assert.equal(singapore.offers[0]!.pricePerUnitSecond, "520");
    assert.equal(
      "lastSeen" in nodes.find((n) => n.id === fra!.who.publicKey)!,
      false,
      "absent, not undefined",
    );
  });

  test("nodes show their latest reported coordinate; the RTT view predicts from it, else from geography", () => {
    const net = network();
    const [a, b] = [fra!.who.publicKey, sin!.who.publicKey];
    const geo = rttView(net.state, a, b);
    assert.deepEqual(geo, { from: a, to: b, rttMs: predictRttMs(fra!.node, sin!.node), source: "geo" });
    assert.deepEqual(rttPredictionSchema.parse(geo), geo);
    must(
      net.send(fra!.who, "reportCoordinate", {
        coordinate: { vectorUs: [0, 0, 0], heightUs: 500, errorPpm: 90_000 },
      }),
    );
    const reportedAt = net.state.time;
    must(
      net.send(sin!.who, "reportCoordinate", {
        coordinate: { vectorUs: [0, 120_000, 50_000], heightUs: 1_500, errorPpm: 300_000 },
      }),
    );
    const nodes = nodeViews(net.state, () => undefined);
    const frankfurt = nodes.find((n) => n.id === a)!;
    assert.deepEqual(frankfurt.coordinate, {
      vectorUs: [0, 0, 0],
      heightUs: 500,
      errorPpm: 90_000,
      reportedAt,
    });
    assert.deepEqual(nodeViewSchema.parse(frankfurt), frankfurt);
    assert.equal(
      "coordinate" in nodes.find((n) => n.id === nyc!.who.publicKey)!,
      false,
      "absent until reported",
    );
    // ‖(0, 120, 50)‖ = 130 ms, + 0.5 + 1.5 = 132 ms.
    assert.deepEqual(rttView(net.state, b, a), {
      from: b,
      to: a,
      rttMs: 132,
      source: "coordinates",
      errorPpm: 300_000,
    });
    assert.equal(rttView(net.state, a, nyc!.who.publicKey).source, "geo", "New York has not reported");
    const stranger = simIdentity("stranger").publicKey;
    assert.throws(
      () => rttView(net.state, a, stranger),
      (e) => isSwitchyardError(e, "UNKNOWN_NODE") && e.details["to"] === stranger,
    );
  });

  test("the market groups active offers per class and continent with min and median price", () => {
    const net = network();
    const classes = marketView(net.state).classes;
    const key = (c: (typeof classes)[number]) => `${c.resourceClass}/${c.region}`;
    assert.deepEqual(classes.map(key), [
      "cpu/Europe",
      "cpu/North America",
      "gpu/Asia",
      "gpu/Europe",
      "gpu/South America",
      "qpu/Europe",
    ]);
    const sg = classes.find((c) => key(c) === "gpu/Asia")!;
    assert.deepEqual(sg, {
      resourceClass: "gpu",
      region: "Asia",
      offers: 1,
      capacity: 8,
      used: 0,
      minPrice: "520",
      medianPrice: "520",
    });
    // Two more European gpu offers at 700 and 900: median of 600, 700, 900 is 700; with a fourth
    // at 1000 it is (700 + 900) / 2 = 800.
    const lon = simIdentity("lon-gpu-1");
    must(net.send(lon, "faucet", { amount: 100_000_000n }));
    must(
      net.send(lon, "registerNode", {
        ...fra!.node,
        name: "lon-gpu-1",
        city: "London",
        country: "GB",
        jurisdictions: ["GB"],
      }),
    );
    for (const price of [700n, 900n]) {
      must(net.send(lon, "postOffer", { resourceClass: "gpu", capacity: 2, pricePerUnitSecond: price }));
    }
    const eu = () => marketView(net.state).classes.find((c) => key(c) === "gpu/Europe")!;
    assert.equal(eu().offers, 3);
    assert.equal(eu().minPrice, "600");
    assert.equal(eu().medianPrice, "700");
    must(net.send(lon, "postOffer", { resourceClass: "gpu", capacity: 2, pricePerUnitSecond: 1_000n }));
    assert.equal(eu().medianPrice, "800");
    assert.equal(eu().capacity, 8 + 6);
  });

  test("the market publishes the price index of the state per class and region, sorted", () => {
    const net = network();
    assert.deepEqual(marketView(net.state).priceIndex, [], "nothing before the first epoch");
    submitJob(net, [stage("a")]);
    must(net.tick());
    const market = marketView(net.state);
    assert.deepEqual(marketSchema.parse(market), market);
    assert.deepEqual(
      market.priceIndex.map((p) => [p.resourceClass, p.region, p.index, p.utilizationBps]),
      [
        ["cpu", "Europe", "40", 0],
        ["cpu", "North America", "30", 0],
        ["gpu", "Asia", "520", 1_250], // 1 of Singapore's 8 units is booked
        ["gpu", "Europe", "600", 0],
        ["gpu", "South America", "450", 0],
        ["qpu", "Europe", "1500", 0],
      ],
    );
    assert.ok(market.priceIndex.every((p) => p.updatedAt === net.state.time));
    // The view is the state's slice, not a recomputation from the book.
    net.state.priceIndex.entries.get("gpu|Asia")!.index = 777n;
    assert.equal(marketView(net.state).priceIndex.find((p) => p.region === "Asia")!.index, "777");
  });

  test("jobs are listed newest first, filtered by requester, at most the page limit", () => {
    const net = network();
    const first = submitJob(net, [stage("a")]);
    const second = submitJob(net, [stage("a")]);
    assert.deepEqual(
      jobViews(net.state).map((j) => j.id),
      [second, first],
    );
    assert.deepEqual(jobViews(net.state, sin!.who.publicKey), []);
    assert.equal(jobViews(net.state, requester.publicKey).length, 2);
    assert.ok(jobListLimit === 100);
  });

  test("an unknown key has an empty account with nonce 0", () => {
    const net = network();
    const nobody = simIdentity("nobody").publicKey;
    assert.deepEqual(accountView(net.state, nobody), {
      key: nobody,
      available: "0",
      staked: "0",
      unbonding: "0",
      nonce: "0",
    });
  });

  test("an assignment names where each input comes from: the stage and provider that produced it, and its endpoint", () => {
    const net = network();
    const job = submitJob(net, [stage("a"), stage("b", ["a"])]);
    const output = "cd".repeat(32);
    must(net.send(sin!.who, "startStage", { jobId: job, stage: "a" }));
    must(
      net.send(sin!.who, "commitResult", { jobId: job, stage: "a", root: "ab".repeat(32), output, steps: 3 }),
    );
    // verificationWindowMs 0: a settles on commit and b is placed on the same provider.
    const [assignment] = assignmentsOf(net.state, sin!.who.publicKey);
    assert.equal(assignment?.stage, "b");
    assert.deepEqual(assignment?.inputs, [
      { cid: output, from: endpoint, stage: "a", producer: sin!.who.publicKey },
    ]);
  });

  test("after a provider vanished, the next one's assignment carries the resume point and the job view the split", () => {
    const net = network();
    const job = submitJob(net, [
      {
        ...stage("a"),
        jurisdictions: undefined,
        cities: ["Singapore", "Frankfurt"],
      } as unknown as ReturnType<typeof stage>,
    ]);
    const h = (i: number) => `${i}`.repeat(64).slice(0, 64);
    must(net.send(sin!.who, "startStage", { jobId: job, stage: "a" }));
    must(
      net.send(sin!.who, "reportProgress", {
        jobId: job,
        stage: "a",
        index: 2,
        step: 8,
        steps: 10,
        checkpointEvery: 4,
        checkpoints: [h(0), h(1), h(2)],
        state: "ee".repeat(32),
      }),
    );
    assert.equal(jobView(net.state, net.state.jobs.get(job)!).stages[0]?.progress?.step, 8);
    net.advance(net.state.jobs.get(job)!.stages.get("a")!.deadline! - net.now + 1);
    must(net.tick());
    const [assignment] = assignmentsOf(net.state, fra!.who.publicKey);
    assert.equal(assignmentSchema.safeParse(assignment).success, true);
    assert.deepEqual(assignment?.resume, {
      index: 2,
      step: 8,
      steps: 10,
      checkpointEvery: 4,
      hash: h(2),
      state: "ee".repeat(32),
      checkpoints: [h(0), h(1), h(2)],
      from: [endpoint],
    });
    must(net.send(fra!.who, "startStage", { jobId: job, stage: "a" }));
    must(
      net.send(fra!.who, "commitResult", {
        jobId: job,
        stage: "a",
        root: "ab".repeat(32),
        output: "cd".repeat(32),
        steps: 10,
        checkpointEvery: 4,
      }),
    );
    const view = jobView(net.state, net.state.jobs.get(job)!);
    assert.equal(jobViewSchema.safeParse(view).success, true);
    const a = view.stages[0]!;
    assert.equal(a.status, "settled");
    assert.deepEqual(
      a.handoffs?.map((x) => [x.provider, x.fromStep, x.toStep]),
      [[sin!.who.publicKey, 0, 8]],
    );
    assert.deepEqual(
      a.payouts?.map((p) => [p.provider, p.fromStep, p.toStep]),
      [
        [sin!.who.publicKey, 0, 8],
        [fra!.who.publicKey, 8, 10],
      ],
    );
    assert.equal(
      a.payouts?.reduce((n, p) => n + BigInt(p.amount), 0n),
      BigInt(a.paid!),
    );
  });

  test("the stage mirror finds every submitted job and reports each status change once", () => {
    const net = network();
    const mirror = new StageStatusMirror(net.state);
    const before = net.log.length;
    const job = submitJob(net, [stage("a")]);
    const submitted = net.log[before]!;
    const outcome = mirror.observe(net.state, submitted, []);
    assert.deepEqual(outcome.jobs, [job], "the job id the mirror derives is the core's");
    assert.deepEqual(
      outcome.changes.map((c) => c.status),
      ["matched"],
    );
    assert.deepEqual(mirror.observe(net.state, submitted, []).changes, [], "no change, no frame");
  });
});
