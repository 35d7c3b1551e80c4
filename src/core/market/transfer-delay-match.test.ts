/**
 * The matcher's delay term counts moving a stage's inputs: once the producer of an input declared
 * its output's size (`commitResult.outputBytes`), each candidate pays one RTT plus those bytes at the
 * slower of the two uplinks (`registerNode.bytesPerSecond`, or the default) in waiting; while the
 * size is unknown it pays one RTT, as before; an input produced on the candidate itself costs nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { predictRttMs } from "../../protocol/geo.ts";
import type { Cid, JobId } from "../../protocol/ids.ts";
import { city, must, onboardProviders, type SimProvider, trainStage } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { defaultUplinkBytesPerSecond, timeValue } from "../routing/effective-cost.ts";

const requester = simIdentity("transfer-delay-requester");
const GB = 1_000_000_000;
/** µ per second of waiting: 1,000 s of transfer cost 100,000 µ, a 60 s stage 100 µ/s more costs 6,000. */
const valueOfTime = 100;

const uplink = (p: SimProvider, bytesPerSecond: number | undefined): SimProvider =>
  bytesPerSecond === undefined ? p : { ...p, node: { ...p.node, bytesPerSecond } };
const producerCpu = uplink(
  city("fra-cpu", "Frankfurt", "DE", ["EU"], 50.1109, 8.6821, "cpu", 4, 8_000, 40n),
  GB,
);
const paris = (name: string, price: bigint) =>
  city(name, "Paris", "FR", ["EU"], 48.8566, 2.3522, "gpu", 4, 40_000, price);

function network(providers: readonly SimProvider[]): LocalNetwork {
  const net = new LocalNetwork({ params: { verificationWindowMs: 0 } });
  onboardProviders(net, providers);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

/** Submits `prep → train`, runs prep on its provider with the given declared size, returns train. */
function placeAfter(
  net: LocalNetwork,
  providers: readonly SimProvider[],
  outputBytes?: number,
  prepClass = "cpu",
) {
  const before = new Set(net.state.jobs.keys());
  must(
    net.send(requester, "submitJob", {
      budget: 10_000_000n,
      valueOfTimePerSecond: valueOfTime,
      stages: [
        trainStage({ name: "prep", program: "prep", resourceClass: prepClass }),
        trainStage({ after: ["prep"] }),
      ],
    }),
  );
  const job = [...net.state.jobs.keys()].find((k) => !before.has(k))! as JobId;
  const stages = net.state.jobs.get(job)!.stages;
  const producer = providers.find((p) => p.who.publicKey === stages.get("prep")!.provider)!;
  must(net.send(producer.who, "startStage", { jobId: job, stage: "prep" }));
  must(
    net.send(producer.who, "commitResult", {
      jobId: job,
      stage: "prep",
      root: "ab".repeat(32),
      output: "cd".repeat(32) as Cid,
      steps: 1,
      ...(outputBytes === undefined ? {} : { outputBytes }),
    }),
  );
  const train = stages.get("train")!;
  assert.equal(train.status, "matched");
  return { train, producer };
}

const rtt = predictRttMs(producerCpu.node, paris("x", 1n).node);

test("a large known output goes to the dearer provider with the faster path; the delay term holds the bytes", () => {
  const slow = uplink(paris("par-slow", 500n), 10_000_000);
  const fast = uplink(paris("par-fast", 600n), GB);
  const providers = [producerCpu, slow, fast];
  const { train } = placeAfter(network(providers), providers, 10 * GB);
  assert.equal(train.provider, fast.who.publicKey, "10 GB at 10 MB/s is 1,000 s of waiting");
  // Delay = value of time × (RTT + bytes / the slower uplink of the two ends).
  assert.equal(train.placement!.cost!.delay, timeValue(valueOfTime, rtt + 10_000));
  assert.equal(train.placement!.runnerUp!.provider, slow.who.publicKey);
  assert.equal(train.placement!.runnerUp!.cost!.delay, timeValue(valueOfTime, rtt + 1_000_000));
  assert.ok(
    train.placement!.cost!.compute > train.placement!.runnerUp!.cost!.compute,
    "the winner is dearer",
  );
});

test("with the output's size unknown the old rule holds: one RTT per input, and the cheaper provider wins", () => {
  const slow = uplink(paris("par-slow", 500n), 10_000_000);
  const fast = uplink(paris("par-fast", 600n), GB);
  const providers = [producerCpu, slow, fast];
  const { train } = placeAfter(network(providers), providers, undefined);
  assert.equal(train.provider, slow.who.publicKey);
  assert.equal(train.placement!.cost!.delay, timeValue(valueOfTime, rtt));
  assert.equal(train.placement!.runnerUp!.cost!.delay, timeValue(valueOfTime, rtt));
});

test("a node that reported no uplink is priced at the default, and an input made on the node itself costs nothing", () => {
  const slow = uplink(paris("par-slow", 500n), 10_000_000);
  const quiet = paris("par-quiet", 600n);
  const providers = [producerCpu, slow, quiet];
  const { train } = placeAfter(network(providers), providers, 10 * GB);
  assert.equal(train.provider, quiet.who.publicKey);
  const atDefault = Math.floor((10 * GB * 1000) / defaultUplinkBytesPerSecond);
  assert.equal(train.placement!.cost!.delay, timeValue(valueOfTime, rtt + atDefault));

  // prep is a gpu stage on the cheaper gpu: train on that same node moves nothing.
  const local = [slow, quiet];
  const { train: onSameNode, producer } = placeAfter(network(local), local, 10 * GB, "gpu");
  assert.equal(producer, slow);
  assert.equal(onSameNode.provider, slow.who.publicKey);
  assert.equal(onSameNode.placement!.cost!.delay, 0);
  assert.equal(
    onSameNode.placement!.runnerUp!.cost!.delay,
    timeValue(valueOfTime, predictRttMs(slow.node, quiet.node) + 1_000_000),
  );
});
