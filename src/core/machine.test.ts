import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobId } from "../protocol/ids.ts";
import type { MessageBody } from "../protocol/messages.ts";
import { must, onboardProviders, worldProviders } from "../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../sim/local-network.ts";
import { decodeState, encodeState, stateHash } from "./codec.ts";
import { checkAllInvariants } from "./invariants.ts";
import { available, escrow, issuance, staked, treasury } from "./ledger/accounts.ts";
import { balanceOf } from "./ledger/ledger.ts";
import { replay } from "./replay.ts";

const requester = simIdentity("requester");
const [fra, , , sin] = worldProviders;

function network(params: ConstructorParameters<typeof LocalNetwork>[0] = {}) {
  const net = new LocalNetwork({ params: { verificationWindowMs: 5_000 }, ...params });
  onboardProviders(net, worldProviders);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

const trainStage = {
  name: "train",
  program: "mlp-train",
  resourceClass: "gpu",
  units: 2,
  seconds: 60,
  maxPricePerUnitSecond: 1_000n,
  jurisdictions: ["EU"],
};

function submit(net: LocalNetwork, stages: MessageBody<"submitJob">["stages"], budget = 10_000_000n): JobId {
  const before = new Set(net.state.jobs.keys());
  must(net.send(requester, "submitJob", { stages, budget } as never));
  const id = [...net.state.jobs.keys()].find((k) => !before.has(k));
  assert.ok(id, "job was created");
  return id;
}

describe("stage lifecycle", () => {
  test("a stage goes matched → running → committed → settled and pays provider, fee and refund", () => {
    const net = network();
    const job = submit(net, [trainStage as never]);
    const stage = net.state.jobs.get(job)!.stages.get("train")!;
    assert.equal(stage.status, "matched");
    assert.equal(stage.provider, fra!.who.publicKey, "the only EU gpu is Frankfurt");
    const providerBefore = balanceOf(net.state, available(fra!.who.publicKey));

    net.advance(1000);
    must(net.send(fra!.who, "startStage", { jobId: job, stage: "train" }));
    net.advance(30_000);
    must(
      net.send(fra!.who, "commitResult", {
        jobId: job,
        stage: "train",
        root: "ab".repeat(32),
        output: "cd".repeat(32),
        steps: 10,
      }),
    );
    assert.equal(stage.status, "committed");
    net.advance(5_000);
    must(net.tick());
    assert.equal(stage.status, "settled");

    const cost = fra!.pricePerUnitSecond * 2n * 60n;
    const fee = (cost * 100n + 9_999n) / 10_000n;
    assert.equal(balanceOf(net.state, available(fra!.who.publicKey)) - providerBefore, cost);
    assert.equal(balanceOf(net.state, treasury), fee);
    assert.equal(balanceOf(net.state, escrow(job)), 0n);
    assert.equal(balanceOf(net.state, available(requester.publicKey)), 100_000_000n - cost - fee);
    assert.equal(net.state.jobs.get(job)!.status, "finished");
    checkAllInvariants(net.state);
  });

  test("a dependent stage is placed only after its dependency settles, and receives its output", () => {
    const net = network({ params: { verificationWindowMs: 0 } });
    const evalStage = {
      ...trainStage,
      name: "eval",
      program: "mlp-eval",
      after: ["train"],
      jurisdictions: ["SG"],
    };
    const job = submit(net, [trainStage as never, evalStage as never]);
    const stages = net.state.jobs.get(job)!.stages;
    assert.equal(stages.get("eval")!.status, "pending");
    must(net.send(fra!.who, "startStage", { jobId: job, stage: "train" }));
    net.advance(10);
    const out = must(
      net.send(fra!.who, "commitResult", {
        jobId: job,
        stage: "train",
        root: "ab".repeat(32),
        output: "cd".repeat(32),
        steps: 1,
      }),
    );
    assert.equal(stages.get("train")!.status, "settled");
    assert.equal(stages.get("eval")!.status, "matched");
    assert.equal(stages.get("eval")!.provider, sin!.who.publicKey);
    const assign = out.effects.find((e) => e.type === "assign");
    assert.ok(assign && assign.type === "assign");
    assert.deepEqual(assign.inputs, ["cd".repeat(32)]);
  });

  test("a missed start deadline reassigns the stage, slashes the provider and pays the requester", () => {
    const net = network();
    const job = submit(net, [{ ...trainStage, jurisdictions: undefined } as never]);
    const stage = net.state.jobs.get(job)!.stages.get("train")!;
    const first = stage.provider!;
    const stakeBefore = balanceOf(net.state, staked(first));
    const requesterBefore = balanceOf(net.state, available(requester.publicKey));
    net.advance(net.state.params.startDeadlineMs + 1);
    const out = must(net.tick());
    assert.ok(out.effects.some((e) => e.type === "stageReassigned"));
    assert.equal(stage.status, "matched");
    assert.notEqual(stage.provider, first, "never the provider that timed out");
    const slashed = stakeBefore - balanceOf(net.state, staked(first));
    assert.equal(slashed, stakeBefore / 100n, "timeoutSlashBps = 100 → 1% of stake");
    assert.equal(balanceOf(net.state, available(requester.publicKey)) - requesterBefore, slashed);
    checkAllInvariants(net.state);
  });

  test("after maxAttempts missed deadlines the stage fails, dependents fail, and the budget is refunded", () => {
    const net = network({ params: { maxAttempts: 1 } });
    const job = submit(net, [
      trainStage as never,
      { ...trainStage, name: "after", after: ["train"] } as never,
    ]);
    net.advance(net.state.params.startDeadlineMs + 1);
    must(net.tick());
    const j = net.state.jobs.get(job)!;
    assert.equal(j.stages.get("train")!.status, "failed");
    assert.equal(j.stages.get("after")!.status, "failed");
    assert.equal(j.status, "finished");
    assert.equal(j.refund, 10_000_000n);
    assert.equal(balanceOf(net.state, escrow(job)), 0n);
  });

  test("cancelling releases matched capacity and refunds everything not started", () => {
    const net = network();
    const job = submit(net, [trainStage as never]);
    const offer = net.state.offers.get(net.state.jobs.get(job)!.stages.get("train")!.offerId!)!;
    assert.equal(offer.used, 2);
    must(net.send(requester, "cancelJob", { jobId: job }));
    assert.equal(offer.used, 0);
    assert.equal(net.state.jobs.get(job)!.refund, 10_000_000n);
  });
});

describe("no match", () => {
  test("a stage nobody can take explains, per reason, how many offers were excluded", () => {
    const net = network();
    const job = submit(net, [{ ...trainStage, jurisdictions: ["JP"] } as never]);
    const stage = net.state.jobs.get(job)!.stages.get("train")!;
    assert.equal(stage.status, "pending");
    const why = stage.noMatch!;
    assert.equal(why.candidates, worldProviders.length);
    // 3 gpu offers are in the wrong jurisdiction; the other 3 offer another resource class.
    assert.deepEqual(why.excluded, { "resource-class": 3, jurisdiction: 3 });
    assert.equal(why.sample.length, 6);
  });

  test("a stage waits in pending and is placed when a matching offer appears", () => {
    const net = network();
    const job = submit(net, [{ ...trainStage, jurisdictions: ["JP"] } as never]);
    const tokyo = simIdentity("tyo-gpu-1");
    must(net.send(tokyo, "faucet", { amount: 10_000_000n }));
    must(net.send(tokyo, "bond", { amount: 5_000_000n }));
    must(
      net.send(tokyo, "registerNode", {
        ...fra!.node,
        name: "tyo-gpu-1",
        city: "Tokyo",
        country: "JP",
        jurisdictions: ["JP"],
      }),
    );
    must(net.send(tokyo, "postOffer", { resourceClass: "gpu", capacity: 4, pricePerUnitSecond: 700n }));
    assert.equal(net.state.jobs.get(job)!.stages.get("train")!.provider, tokyo.publicKey);
  });
});

describe("ledger", () => {
  test("stake backing open work cannot be unbonded; unbonded stake is withdrawable only after the delay", () => {
    const net = network();
    submit(net, [trainStage as never]);
    const p = fra!.who;
    const all = balanceOf(net.state, staked(p.publicKey));
    const refused = net.send(p, "unbond", { amount: all });
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.code, "INSUFFICIENT_STAKE");
    must(net.send(p, "unbond", { amount: all - net.state.params.minProviderStake }));
    const early = net.send(p, "withdrawUnbonded", {});
    assert.equal(!early.ok && early.error.code, "UNBONDING_NOT_DUE");
    net.advance(net.state.params.unbondingDelayMs);
    const before = balanceOf(net.state, available(p.publicKey));
    must(net.send(p, "withdrawUnbonded", {}));
    assert.equal(
      balanceOf(net.state, available(p.publicKey)) - before,
      all - net.state.params.minProviderStake,
    );
  });

  test("the faucet mints against issuance, so all accounts sum to zero", () => {
    const net = network();
    let total = 0n;
    for (const v of net.state.balances.values()) total += v;
    assert.equal(total, 0n);
    assert.ok(balanceOf(net.state, issuance) < 0n);
  });

  test("error: the faucet is refused on a network without it", () => {
    const net = new LocalNetwork({ devFaucet: false });
    const out = net.send(requester, "faucet", { amount: 1n });
    assert.equal(!out.ok && out.error.code, "FAUCET_DISABLED");
  });
});

describe("replay and snapshots", () => {
  test("replaying the log from genesis reproduces the state hash, and so does a snapshot", () => {
    const net = network({ params: { verificationWindowMs: 0 } });
    const job = submit(net, [trainStage as never]);
    must(net.send(fra!.who, "startStage", { jobId: job, stage: "train" }));
    must(
      net.send(fra!.who, "commitResult", {
        jobId: job,
        stage: "train",
        root: "ab".repeat(32),
        output: "cd".repeat(32),
        steps: 1,
      }),
    );
    const replayed = replay(net.log);
    assert.equal(stateHash(replayed), net.stateHash());
    const restored = decodeState(encodeState(net.state));
    assert.equal(stateHash(restored), net.stateHash());
    // Continuing from the snapshot and from the live state gives the same result.
    const half = Math.floor(net.log.length / 2);
    const fromSnapshot = replay(
      net.log.slice(half + 1),
      decodeState(encodeState(replay(net.log.slice(0, half + 1)))),
    );
    assert.equal(stateHash(fromSnapshot), net.stateHash());
  });
});
