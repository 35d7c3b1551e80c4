/**
 * Verification in the live state machine, driven through `apply` by the in-process network:
 * beacon after the commitment, verifier commit–reveal, bisection dispute, referee, slashing,
 * re-run elsewhere, and every deadline's "silence loses". Hashes are synthetic here (the runtime's
 * real ones are exercised end to end by test/demo.test.ts): a state after `step` steps from a
 * segment that started at hash `from` is h(from/step), and a cheater's claims leave that path.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobId, PublicKeyHex } from "../../protocol/ids.ts";
import { merkleProof } from "../../protocol/merkle.ts";
import { must } from "../../sim/fixtures.ts";
import type { LocalNetwork } from "../../sim/local-network.ts";
import {
  byKey,
  closeWindow,
  commitAndReveal,
  EVERY,
  h,
  network,
  phaseOf,
  playDispute,
  providerOf,
  requester,
  run,
  STEPS,
  stageOf,
  startAndCommit,
  submitSpot,
  truth,
  verifierView,
} from "../../sim/verification/live-kit.ts";
import { stateHash } from "../codec.ts";
import { checkAllInvariants } from "../invariants.ts";
import { available, escrow, staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import type { Stage } from "../state.ts";
import { verdictCommitment } from "./committee.ts";
import { disputeRoundBound } from "./dispute.ts";

describe("live spot verification", () => {
  test("a newcomer's result is checked, a matching verdict pays verifier and provider from escrow", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const r = run("honest");
    const p = startAndCommit(net, job, r);
    assert.equal(stage.check?.phase, "verifying", "a newcomer is checked with probability 1");
    assert.equal(stage.check?.ratePpm, 1_000_000);
    assert.notEqual(stage.check?.verifier, p.who.publicKey, "never the provider's own identity");
    const fee = stage.check!.fee!;
    assert.ok(fee > 0n);
    const { verifier, outcome } = commitAndReveal(net, job, stage, r);
    const before = balanceOf(net.state, available(verifier.who.publicKey));
    must(outcome);
    assert.equal(stage.check?.phase, "approved", "approved; it settles when the challenge window closes");
    closeWindow(net);
    assert.equal(stage.status, "settled");
    assert.equal(stage.checks?.at(-1)?.outcome, "verified");
    assert.ok(balanceOf(net.state, available(verifier.who.publicKey)) >= before);
    assert.equal(net.state.reputation.size, 1, "the provider gained a verified success");
    checkAllInvariants(net.state);
  });

  test("a cheater is caught by bisection and one referee step, slashed, unpaid, and the stage re-runs elsewhere", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const requesterBefore = balanceOf(net.state, available(requester.publicKey));
    // Wrong from step 3 on: whichever segment the beacon picks, its end checkpoint is a lie.
    const bad = run("cheat", 3);
    const cheater = startAndCommit(net, job, bad);
    const fee1 = stage.check!.fee!;
    const cheaterStake = balanceOf(net.state, staked(cheater.who.publicKey));
    const paidBefore = balanceOf(net.state, available(cheater.who.publicKey));
    const { verifier, v, outcome } = commitAndReveal(net, job, stage, bad);
    must(outcome);
    assert.equal(v.verdict, "mismatch");
    const rounds = playDispute(net, job, stage, bad, v, verifier);
    assert.ok(rounds <= disputeRoundBound(1, EVERY), `${rounds} rounds within ⌈log₂ ${EVERY}⌉`);
    assert.equal(stage.check?.phase, "refereeing");
    const referee = byKey.get(stage.check!.referee!)!;
    assert.ok(![cheater.who.publicKey, verifier.who.publicKey].includes(referee.who.publicKey));
    // The referee executes the single step lo → lo + 1 from the agreed state.
    const d = stage.check!.dispute!;
    assert.equal(d.hi - d.lo, 1, "one step left");
    const segStart = bad.checkpoints[stage.check!.segment!]!;
    net.advance(10);
    must(
      net.send(referee.who, "refereeVerdict", { jobId: job, stage: "train", hash: truth(segStart, d.hi) }),
    );

    const record = stage.checks!.at(-1)!;
    assert.equal(record.outcome, "fraud-proven");
    assert.equal(record.slashed[0]?.who, cheater.who.publicKey);
    assert.equal(record.slashed[0]?.amount, cheaterStake / 2n, "fraudSlashBps = 50 % of the stake");
    assert.equal(balanceOf(net.state, staked(cheater.who.publicKey)), cheaterStake / 2n);
    assert.equal(balanceOf(net.state, available(cheater.who.publicKey)), paidBefore, "never paid");
    assert.ok(stage.barred?.includes(cheater.who.publicKey as PublicKeyHex));
    assert.equal(stage.status, "matched", "placed again at once");
    assert.notEqual(stage.provider, cheater.who.publicKey);
    checkAllInvariants(net.state);

    // The re-run is honest and verified; the requester pays only for it.
    const good = run("honest-rerun");
    const second = startAndCommit(net, job, good);
    const fee2 = stage.check!.fee!;
    must(commitAndReveal(net, job, stage, good).outcome);
    closeWindow(net);
    assert.equal(stage.status, "settled");
    assert.equal(stage.provider, second.who.publicKey);
    // The slash pays the referee's and the verifier's fees; the rest compensates the requester.
    const compensation = record.slashed[0]!.amount - 2n * fee1;
    assert.equal(
      balanceOf(net.state, available(requester.publicKey)) - requesterBefore,
      compensation + 10_000_000n - (stage.paid! + stage.fee! + fee2),
      "the budget came back less one verified run, plus the rest of the slash",
    );
    assert.equal(balanceOf(net.state, escrow(job)), 0n);
    checkAllInvariants(net.state);
  });

  test("a restricted stage's verifier and referee are drawn only inside its jurisdictions (they must hold its key)", () => {
    const drawn = new Set<string>();
    for (let seed = 0; seed < 6; seed++) {
      const net = network();
      const job = submitSpot(net);
      const stage = stageOf(net, job);
      const bad = run(`cheat-${seed}`, 3);
      startAndCommit(net, job, bad);
      const { verifier, outcome } = commitAndReveal(net, job, stage, bad);
      must(outcome);
      playDispute(net, job, stage, bad, verifierView(stage, bad), verifier);
      assert.equal(stage.check?.phase, "refereeing");
      for (const who of [verifier.who.publicKey, stage.check!.referee!]) {
        const node = net.state.nodes.get(who as PublicKeyHex)!;
        assert.ok(node.jurisdictions.includes("EU"), `${node.name} is outside the stage's EU`);
        drawn.add(node.name);
      }
    }
    assert.ok(drawn.size >= 2, `the draw still varies among EU nodes: ${[...drawn].join(", ")}`);
  });

  test("a provider that goes silent in the dispute loses it", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const bad = run("cheat", 1);
    const cheater = startAndCommit(net, job, bad);
    const { verifier, v, outcome } = commitAndReveal(net, job, stage, bad);
    must(outcome);
    const d = stage.check!.dispute!;
    const step = d.lo + Math.floor((d.hi - d.lo) / 2);
    must(
      net.send(verifier.who, "disputeAnswer", {
        jobId: job,
        stage: "train",
        step,
        hash: truth(v.from, step),
      }),
    );
    net.advance(net.state.params.disputeRoundMs + 1);
    must(net.tick());
    assert.equal(stage.checks!.at(-1)!.outcome, "provider-silent");
    assert.ok(stage.barred?.includes(cheater.who.publicKey as PublicKeyHex));
    assert.notEqual(stage.provider, cheater.who.publicKey);
    checkAllInvariants(net.state);
  });

  test("a verifier that disputes a correct result loses at the referee and pays the provider", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const r = run("honest");
    const p = startAndCommit(net, job, r);
    const verifier = byKey.get(stage.check!.verifier!)!;
    const j = stage.check!.segment!;
    const lie = h("liar");
    const key = `${job}/train`;
    const salt = h("s");
    net.advance(10);
    must(
      net.send(verifier.who, "commitVerdict", {
        jobId: job,
        stage: "train",
        commitment: verdictCommitment({
          verdict: "mismatch",
          salt,
          verifier: verifier.who.publicKey,
          stage: key,
          computed: lie,
        }),
      }),
    );
    net.advance(10);
    must(
      net.send(verifier.who, "revealVerdict", {
        jobId: job,
        stage: "train",
        verdict: "mismatch",
        salt,
        computed: lie,
        agreed: { hash: r.leaves[j]!, proof: [...merkleProof(r.leaves, j)] },
        claimed: { hash: r.leaves[j + 1]!, proof: [...merkleProof(r.leaves, j + 1)] },
      }),
    );
    const from = r.checkpoints[j]!;
    while (stage.check?.phase === "disputing") {
      const d = stage.check.dispute!;
      const step = d.lo + Math.floor((d.hi - d.lo) / 2);
      net.advance(10);
      must(net.send(p.who, "disputeAnswer", { jobId: job, stage: "train", step, hash: r.claimAt(step) }));
      net.advance(10);
      must(
        net.send(verifier.who, "disputeAnswer", {
          jobId: job,
          stage: "train",
          step,
          hash: h(`liar/${step}`),
        }),
      );
    }
    const referee = byKey.get(stage.check!.referee!)!;
    const d = stage.check!.dispute!;
    const providerBefore = balanceOf(net.state, available(p.who.publicKey));
    must(net.send(referee.who, "refereeVerdict", { jobId: job, stage: "train", hash: truth(from, d.hi) }));
    assert.equal(stage.checks!.at(-1)!.outcome, "verifier-wrong");
    assert.equal(stage.checks!.at(-1)!.slashed[0]?.who, verifier.who.publicKey);
    assert.equal(stage.status, "settled");
    assert.ok(balanceOf(net.state, available(p.who.publicKey)) > providerBefore, "paid and compensated");
    checkAllInvariants(net.state);
  });

  test("a verifier that stays silent is slashed for the delay and replaced", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    startAndCommit(net, job, run("honest"));
    const first = stage.check!.verifier!;
    const stakeBefore = balanceOf(net.state, staked(first));
    net.advance(net.state.params.verdictWindowMs + 1);
    must(net.tick());
    assert.equal(stage.check?.phase, "verifying");
    assert.notEqual(stage.check?.verifier, first);
    assert.ok(stage.check?.skipped.includes(first));
    assert.ok(balanceOf(net.state, staked(first)) < stakeBefore);
    checkAllInvariants(net.state);
  });

  test("a verifier of a sealed stage that never got its key is replaced without being slashed", () => {
    const net = network();
    const job = submitSpot(net, true);
    const stage = stageOf(net, job);
    startAndCommit(net, job, run("honest"));
    const first = stage.check!.verifier!;
    const stakeBefore = balanceOf(net.state, staked(first));
    net.advance(net.state.params.verdictWindowMs + 1);
    must(net.tick());
    assert.equal(stage.check?.phase, "verifying");
    assert.notEqual(stage.check?.verifier, first);
    assert.ok(stage.check?.skipped.includes(first));
    assert.equal(balanceOf(net.state, staked(first)), stakeBefore, "the requester withheld its key");
    // The next one is given the key and still stays silent: that delay is its own.
    const second = stage.check!.verifier!;
    must(
      net.send(requester, "releaseKey", { jobId: job, stage: "train", to: second, sealed: "5e".repeat(80) }),
    );
    const secondStake = balanceOf(net.state, staked(second));
    net.advance(net.state.params.verdictWindowMs + 1);
    must(net.tick());
    assert.ok(balanceOf(net.state, staked(second)) < secondStake);
    checkAllInvariants(net.state);
  });

  test("a reveal that does not open the commitment is rejected and changes nothing", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const r = run("honest");
    startAndCommit(net, job, r);
    const verifier = byKey.get(stage.check!.verifier!)!;
    const v = verifierView(stage, r);
    const key = `${job}/train`;
    must(
      net.send(verifier.who, "commitVerdict", {
        jobId: job,
        stage: "train",
        commitment: verdictCommitment({
          verdict: "match",
          salt: h("a"),
          verifier: verifier.who.publicKey,
          stage: key,
          computed: v.computed,
        }),
      }),
    );
    const before = stateHash(net.state);
    const out = net.send(verifier.who, "revealVerdict", {
      jobId: job,
      stage: "train",
      verdict: "match",
      salt: h("b"),
      computed: v.computed,
    });
    assert.equal(out.ok, false);
    assert.equal(stateHash(net.state), before);
  });

  test("a spot-checked commitment without its checkpoint layout is refused", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const p = providerOf(stage);
    must(net.send(p.who, "startStage", { jobId: job, stage: "train" }));
    const before = stateHash(net.state);
    const out = net.send(p.who, "commitResult", {
      jobId: job,
      stage: "train",
      root: h("r"),
      output: h("o"),
      steps: STEPS,
    });
    assert.equal(out.ok, false);
    if (!out.ok) assert.equal(out.error.code, "MALFORMED");
    assert.equal(stateHash(net.state), before);
  });
});

describe("live verification when the provider withholds what a check needs", () => {
  function withhold(net: LocalNetwork, job: JobId, stage: Stage) {
    const verifier = byKey.get(stage.check!.verifier!)!;
    const key = `${job}/train`;
    const salt = h("w");
    const computed = h("nothing");
    must(
      net.send(verifier.who, "commitVerdict", {
        jobId: job,
        stage: "train",
        commitment: verdictCommitment({
          verdict: "withheld",
          salt,
          verifier: verifier.who.publicKey,
          stage: key,
          computed,
        }),
      }),
    );
    must(
      net.send(verifier.who, "revealVerdict", {
        jobId: job,
        stage: "train",
        verdict: "withheld",
        salt,
        computed,
      }),
    );
    return verifier;
  }

  test("a provider that does not reveal the checked state loses by silence: slashed, unpaid, re-run; the verifier is paid", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const p = startAndCommit(net, job, run("hidden"));
    const fee = stage.check!.fee!;
    const verifier = withhold(net, job, stage);
    assert.equal(phaseOf(stage), "withheld");
    const verifierBefore = balanceOf(net.state, available(verifier.who.publicKey));
    const stakeBefore = balanceOf(net.state, staked(p.who.publicKey));
    net.advance(net.state.params.disputeRoundMs + 1);
    must(net.tick());
    const record = stage.checks!.at(-1)!;
    assert.equal(record.outcome, "provider-silent");
    assert.equal(balanceOf(net.state, staked(p.who.publicKey)), stakeBefore / 2n);
    assert.equal(balanceOf(net.state, available(verifier.who.publicKey)) - verifierBefore, fee);
    assert.notEqual(stage.provider, p.who.publicKey, "placed again elsewhere");
    checkAllInvariants(net.state);
  });

  test("a provider that reveals gets checked again by the same verifier, and an honest result settles", () => {
    const net = network();
    const job = submitSpot(net);
    const stage = stageOf(net, job);
    const r = run("honest");
    const p = startAndCommit(net, job, r);
    const verifier = withhold(net, job, stage);
    const j = stage.check!.segment!;
    const before = stateHash(net.state);
    const wrong = net.send(p.who, "revealState", {
      jobId: job,
      stage: "train",
      state: h("state-bytes"),
      agreed: { hash: r.leaves[j]!, proof: [...merkleProof(r.leaves, j)] },
      claimed: { hash: h("not-the-leaf"), proof: [...merkleProof(r.leaves, j + 1)] },
    });
    assert.equal(wrong.ok, false, "the checkpoints must be proven against the root");
    assert.equal(stateHash(net.state), before);
    must(
      net.send(p.who, "revealState", {
        jobId: job,
        stage: "train",
        state: h("state-bytes"),
        agreed: { hash: r.leaves[j]!, proof: [...merkleProof(r.leaves, j)] },
        claimed: { hash: r.leaves[j + 1]!, proof: [...merkleProof(r.leaves, j + 1)] },
      }),
    );
    assert.equal(phaseOf(stage), "verifying");
    assert.equal(stage.check?.verifier, verifier.who.publicKey);
    const again = verdictCommitment({
      verdict: "withheld",
      salt: h("s"),
      verifier: verifier.who.publicKey,
      stage: `${job}/train`,
      computed: h("nothing"),
    });
    must(net.send(verifier.who, "commitVerdict", { jobId: job, stage: "train", commitment: again }));
    const refused = net.send(verifier.who, "revealVerdict", {
      jobId: job,
      stage: "train",
      verdict: "withheld",
      salt: h("s"),
      computed: h("nothing"),
    });
    assert.equal(refused.ok, false, "a revealed state cannot be called withheld again");
    if (!refused.ok) assert.equal(refused.error.code, "ILLEGAL_TRANSITION");
    checkAllInvariants(net.state);
  });
});
