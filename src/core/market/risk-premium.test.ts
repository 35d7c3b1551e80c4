/** Reputation feeds the market's risk premium: an offer is ranked by price × (1 + P(failure)). */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { JobId } from "../../protocol/ids.ts";
import { city, must, onboardProviders, submitJobOf, trainStage } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { emptyReputation, failurePpm, recordOutcome, reputationKey } from "../reputation/reputation.ts";

const requester = simIdentity("requester");
const cheap = city("cheap-gpu", "Frankfurt", "DE", ["EU"], 50.1109, 8.6821, "gpu", 4, 40_000, 600n);
const dear = city("dear-gpu", "Paris", "FR", ["EU"], 48.8566, 2.3522, "gpu", 4, 40_000, 620n);

function submit(net: LocalNetwork): JobId {
  return submitJobOf(net, requester, [trainStage()]);
}

function network() {
  const net = new LocalNetwork({ params: { verificationWindowMs: 5_000 } });
  onboardProviders(net, [cheap, dear]);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

test("among newcomers the lower price wins, and the explanation shows both risks", () => {
  const net = network();
  const stage = net.state.jobs.get(submit(net))!.stages.get("train")!;
  assert.equal(stage.provider, cheap.who.publicKey);
  assert.equal(stage.placement?.failurePpm, failurePpm(emptyReputation));
  assert.equal(stage.placement?.runnerUp?.provider, dear.who.publicKey);
  assert.equal(stage.placement?.runnerUp?.failurePpm, 50_000);
});

test("a provider with proven failures pays a risk premium that can lose it the match", () => {
  const net = network();
  // Two proven failures on mlp-train: P(failure) = 21/40; 600 × 1.525 > 620 × 1.05.
  let record = emptyReputation;
  for (let i = 0; i < 2; i++) record = recordOutcome(record, "failure");
  net.state.reputation.set(reputationKey(cheap.who.publicKey, "mlp-train"), record);
  const stage = net.state.jobs.get(submit(net))!.stages.get("train")!;
  assert.equal(stage.provider, dear.who.publicKey, "the dearer but reliable offer wins");
  assert.equal(stage.placement?.runnerUp?.provider, cheap.who.publicKey);
  assert.ok((stage.placement?.runnerUp?.failurePpm ?? 0) > 500_000);
});

test("the failure estimate: 5 % for a newcomer, falling with verified successes, never 0", () => {
  assert.equal(failurePpm(emptyReputation), 50_000);
  assert.equal(failurePpm({ successes: 80, failures: 0, timeouts: 0 }), 10_000);
  assert.ok(failurePpm({ successes: 1_000_000, failures: 0, timeouts: 0 }) > 0);
  assert.ok(
    failurePpm({ successes: 0, failures: 1, timeouts: 0 }) >
      failurePpm({ successes: 0, failures: 0, timeouts: 1 }),
  );
});
