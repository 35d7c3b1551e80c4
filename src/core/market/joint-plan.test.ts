/**
 * The live core places a job by its joint plan: a producer takes a dearer offer next to where its
 * consumer must run when moving the data would cost more than the price difference, the
 * explanation says the plan was followed, and a planned offer taken by another job meanwhile falls
 * back to the stage's own cheapest.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Cid, JobId } from "../../protocol/ids.ts";
import type { StageSpec } from "../../protocol/messages.ts";
import { city, must, onboardProviders, trainStage } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { stateHash } from "../codec.ts";
import { replay } from "../replay.ts";

const requester = simIdentity("joint-plan-requester");
const nycCpu = city("nyc-cpu", "New York", "US", [], 40.7128, -74.006, "cpu", 4, 9_000, 30n);
const sinCpu = city("sin-cpu", "Singapore", "SG", [], 1.3521, 103.8198, "cpu", 4, 8_000, 40n);
const sinGpu = city("sin-gpu", "Singapore", "SG", [], 1.3521, 103.8198, "gpu", 1, 35_000, 520n);
const sinGpuDear = city("sin-gpu-dear", "Singapore", "SG", [], 1.3521, 103.8198, "gpu", 1, 35_000, 600n);

/** prep (cpu, anywhere) → train (gpu, only in Singapore). */
const pipeline: StageSpec[] = [
  trainStage({ name: "prep", program: "prep", resourceClass: "cpu" }),
  trainStage({ after: ["prep"], jurisdictions: ["SG"] }),
];

function network(providers = [nycCpu, sinCpu, sinGpu]): LocalNetwork {
  const net = new LocalNetwork({ params: { verificationWindowMs: 0 } });
  onboardProviders(net, providers);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

function submit(
  net: LocalNetwork,
  stages: readonly StageSpec[],
  valueOfTimePerSecond: number,
  who = requester,
): JobId {
  const before = new Set(net.state.jobs.keys());
  must(net.send(who, "submitJob", { budget: 10_000_000n, valueOfTimePerSecond, stages: [...stages] }));
  return [...net.state.jobs.keys()].find((k) => !before.has(k))!;
}

/** Runs `prep` to its commitment (no size declared), which lets `train` be placed. */
function finishPrep(net: LocalNetwork, job: JobId): void {
  const provider = net.state.jobs.get(job)!.stages.get("prep")!.provider!;
  const who = [nycCpu, sinCpu].find((p) => p.who.publicKey === provider)!.who;
  must(net.send(who, "startStage", { jobId: job, stage: "prep" }));
  const root = "ab".repeat(32);
  must(
    net.send(who, "commitResult", {
      jobId: job,
      stage: "prep",
      root,
      output: "cd".repeat(32) as Cid,
      steps: 1,
    }),
  );
}

test("the producer runs next to its consumer when the transfer costs more than the price; the plan says so", () => {
  const net = network();
  const job = submit(net, pipeline, 100_000);
  const prep = net.state.jobs.get(job)!.stages.get("prep")!;
  // Greedy would take New York at 30 µ/s and pay the New York → Singapore RTT at 100,000 µ/s in
  // train's delay (about 24,000 µ); Singapore at 40 µ/s costs 600 µ more and moves nothing far.
  assert.equal(prep.provider, sinCpu.who.publicKey);
  const placement = prep.placement!;
  assert.equal(placement.planned, true);
  assert.equal(
    placement.runnerUp?.provider,
    nycCpu.who.publicKey,
    "the stage's own cheapest is the runner-up",
  );
  assert.ok(placement.runnerUp!.cost!.total < placement.cost!.total, "alone, New York is cheaper");
  assert.equal(placement.cost!.compute - placement.runnerUp!.cost!.compute, 600);
  const plan = placement.plan!;
  assert.equal(plan.exact, true);
  assert.ok(
    plan.greedyTotal! - plan.total > 20_000,
    `the plan saves the far transfer: ${JSON.stringify(plan)}`,
  );

  finishPrep(net, job);
  const train = net.state.jobs.get(job)!.stages.get("train")!;
  assert.equal(train.provider, sinGpu.who.publicKey);
  assert.ok(net.state.nodes.get(train.provider!)!.jurisdictions.includes("SG"));
  // What the job pays in effective cost is what the plan predicted.
  assert.equal(placement.cost!.total + train.placement!.cost!.total, plan.total);
});

test("with no value of time the plan and greedy agree: the cheapest producer wins", () => {
  const net = network();
  const job = submit(net, pipeline, 0);
  const prep = net.state.jobs.get(job)!.stages.get("prep")!;
  assert.equal(prep.provider, nycCpu.who.publicKey);
  assert.equal(prep.placement!.planned, true);
  assert.equal(prep.placement!.plan!.total, prep.placement!.plan!.greedyTotal);
});

test("the plan is followed even when its offer is dearer than the stage's runner-up alone (beyond the matcher's price bound)", () => {
  // One-second stages at 100,000 µ/s of waiting: New York → Singapore (~240 ms) costs train about
  // 24,000 µ of delay, more than prep's 15,000 µ/s in Singapore costs over New York's 30. The
  // matcher's bound stops before the Singapore cpu (its price alone exceeds the runner-up's whole
  // cost), so the planned offer is examined on its own.
  const nycCpu2 = city("nyc-cpu-2", "New York", "US", [], 40.7128, -74.006, "cpu", 4, 9_000, 31n);
  const dearSinCpu = city("sin-cpu-dear", "Singapore", "SG", [], 1.3521, 103.8198, "cpu", 4, 8_000, 15_000n);
  const net = network([nycCpu, nycCpu2, dearSinCpu, sinGpu]);
  const short = { seconds: 1, maxPricePerUnitSecond: 20_000n };
  const job = submit(
    net,
    [
      trainStage({ name: "prep", program: "prep", resourceClass: "cpu", ...short }),
      trainStage({ after: ["prep"], jurisdictions: ["SG"], ...short }),
    ],
    100_000,
  );
  const prep = net.state.jobs.get(job)!.stages.get("prep")!;
  assert.equal(prep.provider, dearSinCpu.who.publicKey);
  assert.equal(prep.placement!.planned, true);
  assert.equal(prep.placement!.runnerUp?.provider, nycCpu.who.publicKey);
  assert.ok(prep.placement!.plan!.total < prep.placement!.plan!.greedyTotal!);
});

test("a planned offer taken by another job meanwhile: the stage falls back to its own cheapest and says so", () => {
  const net = network([nycCpu, sinCpu, sinGpu, sinGpuDear]);
  const job = submit(net, pipeline, 100_000);
  const planned = net.state.jobs.get(job)!.plan!.stages.get("train")!;
  assert.equal(net.state.offers.get(planned)!.provider, sinGpu.who.publicKey);

  // Another requester's single-stage job takes the only unit of the planned gpu.
  const other = simIdentity("joint-plan-other");
  must(net.send(other, "faucet", { amount: 100_000_000n }));
  const otherJob = submit(net, [trainStage()], 0, other);
  assert.equal(net.state.jobs.get(otherJob)!.stages.get("train")!.provider, sinGpu.who.publicKey);

  finishPrep(net, job);
  const train = net.state.jobs.get(job)!.stages.get("train")!;
  assert.equal(train.status, "matched");
  assert.equal(train.provider, sinGpuDear.who.publicKey);
  assert.equal(train.placement!.planned, false, "the plan's offer had no free unit left");
  assert.ok(train.placement!.plan !== undefined, "the plan it could not follow is still shown");
});

test("replaying the log rebuilds the same plans and placements; a job with nothing pending keeps no plan", () => {
  const net = network();
  const job = submit(net, pipeline, 100_000);
  const planned = replay(net.log);
  assert.ok(planned.jobs.get(job)!.plan !== undefined, "train is pending: the plan is in the state");
  assert.equal(stateHash(planned), net.stateHash());
  finishPrep(net, job);
  assert.equal(net.state.jobs.get(job)!.plan, undefined);
  assert.equal(stateHash(replay(net.log)), net.stateHash());
});
