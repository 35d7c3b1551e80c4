/** Canaries in the live state machine, driven through `apply` (see live.test.ts for the setting). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PublicKeyHex } from "../../protocol/ids.ts";
import { merkleProof } from "../../protocol/merkle.ts";
import { must, onboardProviders } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import {
  byKey,
  commitAndReveal,
  h,
  phaseOf,
  providers,
  requester,
  run,
  stageOf,
  startAndCommit,
  submitSpot,
  truth,
} from "../../sim/verification/live-kit.ts";
import { stateHash } from "../codec.ts";
import { checkAllInvariants } from "../invariants.ts";
import { available, staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { canaryCommitment } from "./canaries-live.ts";
import { verdictCommitment } from "./committee.ts";

describe("live canaries", () => {
  const authority = simIdentity("canary-authority");

  function canaryNetwork() {
    const net = new LocalNetwork({
      params: { verificationWindowMs: 5_000, canaryAuthority: authority.publicKey as never },
    });
    onboardProviders(net, providers);
    must(net.send(requester, "faucet", { amount: 100_000_000n }));
    return net;
  }

  /** A canary: the authority commits, the stage's provider commits a planted fault. */
  function plant(net: LocalNetwork) {
    const job = submitSpot(net);
    const salt = h("canary-salt");
    must(net.send(authority, "canaryCommit", { commitment: canaryCommitment(job, "train", salt) }));
    const planted = run("planted", 1);
    const p = startAndCommit(net, job, planted);
    return { job, salt, planted, p, stage: stageOf(net, job) };
  }

  test("a lazy verifier that approves a canary is proven wrong by one referee step, slashed and ejected", () => {
    const net = canaryNetwork();
    const { job, salt, planted, p, stage } = plant(net);
    const verifier = byKey.get(stage.check!.verifier!)!;
    const j = stage.check!.segment!;
    const key = `${job}/train`;
    // Lazy: copies the provider's claim instead of computing.
    const copied = planted.leaves[j + 1]!;
    const vsalt = h("v");
    must(
      net.send(verifier.who, "commitVerdict", {
        jobId: job,
        stage: "train",
        commitment: verdictCommitment({
          verdict: "match",
          salt: vsalt,
          verifier: verifier.who.publicKey,
          stage: key,
          computed: copied,
        }),
      }),
    );
    must(
      net.send(verifier.who, "revealVerdict", {
        jobId: job,
        stage: "train",
        verdict: "match",
        salt: vsalt,
        computed: copied,
      }),
    );
    assert.equal(stage.check?.phase, "approved");
    const stakeBefore = balanceOf(net.state, staked(verifier.who.publicKey));
    const from = planted.checkpoints[j]!;
    const toStep = stage.check!.toStep!;
    must(
      net.send(p.who, "revealCanary", {
        jobId: job,
        stage: "train",
        salt,
        trueHash: truth(from, toStep),
        agreed: { hash: planted.leaves[j]!, proof: [...merkleProof(planted.leaves, j)] },
        claimed: { hash: copied, proof: [...merkleProof(planted.leaves, j + 1)] },
      }),
    );
    // The approver must now defend the claim; computing honestly, it agrees until the last step.
    while (phaseOf(stage) === "disputing") {
      const d = stage.check.dispute!;
      const step = d.lo + Math.floor((d.hi - d.lo) / 2);
      net.advance(10);
      must(
        net.send(verifier.who, "disputeAnswer", {
          jobId: job,
          stage: "train",
          step,
          hash: truth(from, step),
        }),
      );
      must(net.send(p.who, "disputeAnswer", { jobId: job, stage: "train", step, hash: truth(from, step) }));
    }
    const referee = byKey.get(stage.check!.referee!)!;
    assert.ok(![verifier.who.publicKey, p.who.publicKey].includes(referee.who.publicKey));
    must(net.send(referee.who, "refereeVerdict", { jobId: job, stage: "train", hash: truth(from, toStep) }));
    assert.equal(stage.checks!.at(-1)!.outcome, "canary-caught");
    assert.ok(net.state.ejected.has(verifier.who.publicKey as PublicKeyHex), "ejected");
    assert.equal(balanceOf(net.state, staked(verifier.who.publicKey)), stakeBefore / 2n, "slashed");
    assert.equal(stage.status, "failed", "a canary is never paid or re-run");
    assert.equal(net.state.jobs.get(job)!.status, "finished");
    checkAllInvariants(net.state);
  });

  test("a verifier that finds the planted fault is paid and nobody is slashed", () => {
    const net = canaryNetwork();
    const { job, salt, planted, p, stage } = plant(net);
    const { verifier, outcome } = commitAndReveal(net, job, stage, planted);
    must(outcome);
    assert.equal(stage.check?.phase, "disputing");
    const before = balanceOf(net.state, available(verifier.who.publicKey));
    const fee = stage.check!.fee!;
    must(net.send(p.who, "revealCanary", { jobId: job, stage: "train", salt }));
    assert.equal(stage.checks!.at(-1)!.outcome, "canary-passed");
    assert.deepEqual(stage.checks!.at(-1)!.slashed, []);
    assert.equal(balanceOf(net.state, available(verifier.who.publicKey)) - before, fee);
    assert.ok(!net.state.ejected.has(verifier.who.publicKey as PublicKeyHex));
    checkAllInvariants(net.state);
  });

  test("a caught cheater cannot call its stage a canary after the fact", () => {
    const net = canaryNetwork();
    const job = submitSpot(net);
    const bad = run("cheat", 1);
    const cheater = startAndCommit(net, job, bad);
    const stage = stageOf(net, job);
    must(commitAndReveal(net, job, stage, bad).outcome);
    const salt = h("late");
    must(net.send(authority, "canaryCommit", { commitment: canaryCommitment(job, "train", salt) }));
    const before = stateHash(net.state);
    const out = net.send(cheater.who, "revealCanary", { jobId: job, stage: "train", salt });
    assert.equal(out.ok, false);
    assert.equal(stateHash(net.state), before);
  });

  test("only the canary authority commits canaries", () => {
    const net = canaryNetwork();
    const out = net.send(requester, "canaryCommit", { commitment: h("x") });
    assert.equal(out.ok, false);
    if (!out.ok) assert.equal(out.error.code, "NOT_AUTHORIZED");
  });
});
