import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobId } from "../protocol/ids.ts";
import { must, onboardProviders, worldProviders } from "../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../sim/local-network.ts";
import { tickDue } from "./ticker.ts";

const requester = simIdentity("requester");

const stage = (resourceClass: string) => ({
  name: "s",
  program: "mlp-train",
  resourceClass,
  units: 1,
  seconds: 10,
  maxPricePerUnitSecond: 1_000n,
});

function network(): LocalNetwork {
  const net = new LocalNetwork();
  onboardProviders(net, worldProviders.slice(0, 1)); // one gpu in Frankfurt
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

describe("a tick is sequenced only when it can change something", () => {
  test("an idle network needs no tick", () => {
    const net = network();
    assert.equal(tickDue(net.state, net.now + 3_600_000, -1), false);
  });

  test("a placed stage needs a tick once its deadline has passed, not before", () => {
    const net = network();
    must(net.send(requester, "submitJob", { stages: [stage("gpu")], budget: 1_000_000n } as never));
    const [jobId] = net.state.jobs.keys() as IterableIterator<JobId>;
    const deadline = net.state.jobs.get(jobId!)!.stages.get("s")!.deadline!;
    assert.equal(tickDue(net.state, deadline - 1, net.state.seq), false);
    assert.equal(tickDue(net.state, deadline, net.state.seq), true);
  });

  test("waiting stages need a tick after any other event, but not twice in a row", () => {
    const net = network();
    must(net.send(requester, "submitJob", { stages: [stage("qpu")], budget: 1_000_000n } as never));
    assert.equal(net.state.pending.size, 1, "no qpu: the stage waits");
    assert.equal(tickDue(net.state, net.now, -1), true);
    must(net.tick());
    assert.equal(tickDue(net.state, net.now, net.state.seq), false, "nothing happened since the last tick");
    must(net.send(requester, "transfer", { to: simIdentity("x").publicKey, amount: 1n }));
    assert.equal(tickDue(net.state, net.now, net.state.seq - 1), true);
  });
});
