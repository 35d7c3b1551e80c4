/**
 * The matcher ranks offers by effective cost (routing/effective-cost.ts), not by price alone: with
 * a value of time, the loop's round trips make a nearer provider worth a higher price, and the
 * placement says which terms separated the winner from the runner-up.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { JobId } from "../../protocol/ids.ts";
import { city, must, onboardProviders } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";

const requester = simIdentity("requester");
const optimizer = city("ams-cpu", "Amsterdam", "NL", ["EU"], 52.3676, 4.9041, "cpu", 4, 8_000, 40n);
const nearQpu = city("ams-qpu", "Amsterdam", "NL", ["EU"], 52.3676, 4.9041, "qpu", 2, 5_000, 1_600n);
const farQpu = city("sin-qpu", "Singapore", "SG", ["SG"], 1.3521, 103.8198, "qpu", 2, 5_000, 1_500n);

function submit(net: LocalNetwork, valueOfTimePerSecond: number | undefined): JobId {
  const before = new Set(net.state.jobs.keys());
  const base = {
    params: {},
    units: 1,
    seconds: 60,
    after: [] as string[],
    inputs: [] as string[],
    verification: "none",
  };
  must(
    net.send(requester, "submitJob", {
      budget: 10_000_000n,
      ...(valueOfTimePerSecond === undefined ? {} : { valueOfTimePerSecond }),
      stages: [
        {
          ...base,
          name: "opt",
          program: "qaoa-optimizer",
          resourceClass: "cpu",
          maxPricePerUnitSecond: 100n,
        },
        {
          ...base,
          name: "qpu",
          program: "qaoa-maxcut",
          resourceClass: "qpu",
          maxPricePerUnitSecond: 2_000n,
          loop: { with: "opt", iterations: 1_000, maxRttMs: 1_000 },
        },
      ],
    } as never),
  );
  return [...net.state.jobs.keys()].find((k) => !before.has(k))!;
}

function network() {
  const net = new LocalNetwork({ params: { verificationWindowMs: 5_000 } });
  onboardProviders(net, [optimizer, nearQpu, farQpu]);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

test("without a value of time the cheaper far provider wins; the loop's delay is still shown", () => {
  const net = network();
  const qpu = net.state.jobs.get(submit(net, undefined))!.stages.get("qpu")!;
  assert.equal(qpu.provider, farQpu.who.publicKey);
  assert.equal(qpu.placement?.cost?.delay, 0, "time is worth nothing to this requester");
  assert.equal(qpu.placement?.runnerUp?.provider, nearQpu.who.publicKey);
});

test("with a value of time the nearer qpu wins at a higher price, and the explanation says why", () => {
  const net = network();
  const qpu = net.state.jobs.get(submit(net, 1_000))!.stages.get("qpu")!;
  assert.equal(qpu.provider, nearQpu.who.publicKey, "1,000 round trips to Singapore cost more than 100 µ/s");
  const chosen = qpu.placement!.cost!;
  const runner = qpu.placement!.runnerUp!.cost!;
  assert.ok(chosen.compute > runner.compute, "the winner is dearer per second");
  assert.ok(
    runner.delay > chosen.delay + (chosen.compute - runner.compute),
    "but the runner-up's delay costs more",
  );
  assert.equal(chosen.total, chosen.compute + chosen.time + chosen.delay + chosen.risk + chosen.verification);
  assert.ok(chosen.total < runner.total);
});
