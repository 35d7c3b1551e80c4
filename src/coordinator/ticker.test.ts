import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobId } from "../protocol/ids.ts";
import type { Params } from "../protocol/params.ts";
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

function network(params: Partial<Params> = {}): LocalNetwork {
  const net = new LocalNetwork({ params });
  onboardProviders(net, worldProviders.slice(0, 1)); // one gpu in Frankfurt
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

describe("a tick is sequenced only when it can change something", () => {
  test("an idle network needs one tick to start its price index, then none", () => {
    const net = network();
    assert.equal(tickDue(net.state, net.now, -1), true, "the offer has no index yet");
    must(net.tick());
    // One offer: its index starts at its ask, which is both the lowest and the highest ask.
    assert.equal(tickDue(net.state, net.now + 3_600_000, net.state.seq), false);
  });

  test("a price epoch needs a tick once it has ended, if it would move the index", () => {
    // Start deadlines beyond the epoch, so the epoch is the only reason for a tick.
    const net = network({ startDeadlineMs: 3_600_000 });
    must(net.tick());
    must(net.send(requester, "submitJob", { stages: [stage("gpu")], budget: 1_000_000n } as never));
    const epochEnds = net.state.priceIndex.epochAt + net.state.params.priceEpochMs;
    const [jobId] = net.state.jobs.keys() as IterableIterator<JobId>;
    const deadline = net.state.jobs.get(jobId!)!.stages.get("s")!.deadline!;
    assert.ok(deadline > epochEnds, "the stage's deadline does not ask for this tick");
    assert.equal(tickDue(net.state, epochEnds - 1, net.state.seq), false);
    assert.equal(
      tickDue(net.state, epochEnds, net.state.seq),
      true,
      "1 of 8 units used: the reading changed",
    );
  });

  test("a placed stage needs a tick once its deadline has passed, not before", () => {
    const net = network();
    must(net.tick()); // start the price index; the next epoch ends after the start deadline
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
