/**
 * Verification in the live state machine, driven through `apply` by the in-process network:
 * beacon after the commitment, verifier commit–reveal, bisection dispute, referee, slashing,
 * re-run elsewhere, and every deadline's "silence loses". Hashes are synthetic here (the runtime's
 * real ones are exercised end to end by test/demo.test.ts): a state after `step` steps from a
 * segment that started at hash `from` is h(from/step), and a cheater's claims leave that path.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { utf8 } from "../../protocol/bytes.ts";
import { checkpointSteps } from "../../protocol/checkpoints.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Hex32, JobId, PublicKeyHex } from "../../protocol/ids.ts";
import { merkleProof, merkleRoot } from "../../protocol/merkle.ts";
import {
  city,
  must,
  onboardProviders,
  type SimProvider,
  submitJobOf,
  trainStage,
  worldProviders,
} from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { stateHash } from "../codec.ts";
import { checkAllInvariants } from "../invariants.ts";
import { available, escrow, staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import type { Stage } from "../state.ts";
import { verdictCommitment } from "./committee.ts";
import { disputeRoundBound } from "./dispute.ts";
import { canaryCommitment } from "./live.ts";

const h = (s: string): Hex32 => taggedHash("test", utf8(s));
const requester = simIdentity("requester");
const paris = city("par-gpu-1", "Paris", "FR", ["EU"], 48.8566, 2.3522, "gpu", 8, 40_000, 650n);
const providers: readonly SimProvider[] = [...worldProviders, paris];
const byKey = new Map(providers.map((p) => [p.who.publicKey as string, p]));
const STEPS = 16;
const EVERY = 8; // two segments of 8 steps: a dispute takes ⌈log₂ 8⌉ = 3 rounds

function network() {
  const net = new LocalNetwork({ params: { verificationWindowMs: 5_000 } });
  onboardProviders(net, providers);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

function submitSpot(net: LocalNetwork, sealed = false): JobId {
  const before = new Set(net.state.jobs.keys());
  must(
    net.send(requester, "submitJob", {
      budget: 10_000_000n,
      ...(sealed ? { sealed: true as const } : {}),
      stages: [trainStage({ jurisdictions: ["EU"], verification: "spot" })],
    }),
  );
  return [...net.state.jobs.keys()].find((k) => !before.has(k))!;
}

/** The true state hash after `step` steps, on the path through `from` at `fromStep`. */
const truth = (from: Hex32, step: number): Hex32 => h(`${from}/${step}`);

interface Run {
  readonly checkpoints: Hex32[];
  readonly leaves: Hex32[];
  readonly root: Hex32;
  /** The provider's claim at any step (what it answers in a dispute). */
  readonly claimAt: (step: number) => Hex32;
}

/** A run whose claims follow the truth until `cheatFrom` (never, for an honest run). */
function run(seedName: string, cheatFrom = Number.POSITIVE_INFINITY): Run {
  const at = checkpointSteps(STEPS, EVERY);
  const start = h(seedName);
  const claims = new Map<number, Hex32>([[0, start]]);
  let segStart = start;
  for (let step = 1; step <= STEPS; step++) {
    claims.set(step, step >= cheatFrom ? h(`lie/${seedName}/${step}`) : truth(segStart, step));
    if (at.includes(step)) segStart = claims.get(step)!;
  }
  const checkpoints = at.map((s) => claims.get(s)!);
  const leaves = [...checkpoints, h(`${seedName}/output`)];
  return { checkpoints, leaves, root: merkleRoot(leaves), claimAt: (s) => claims.get(s)! };
}

/** The verification phase, read afresh (not narrowed by an earlier assertion). */
const phaseOf = (stage: Stage): string | undefined => stage.check?.phase;

function stageOf(net: LocalNetwork, job: JobId): Stage {
  return net.state.jobs.get(job)!.stages.get("train")!;
}

function providerOf(stage: Stage): SimProvider {
  return byKey.get(stage.provider!)!;
}

/** Start and commit `r` as the stage's current provider; then one tick draws the beacon. */
function startAndCommit(net: LocalNetwork, job: JobId, r: Run): SimProvider {
  const stage = stageOf(net, job);
  const p = providerOf(stage);
  net.advance(10);
  must(net.send(p.who, "startStage", { jobId: job, stage: "train" }));
  net.advance(10);
  must(
    net.send(p.who, "commitResult", {
      jobId: job,
      stage: "train",
      root: r.root,
      output: h("output-blob"),
      steps: STEPS,
      checkpointEvery: EVERY,
      manifest: h("manifest-blob"),
    }),
  );
  assert.equal(stage.check?.phase, "beacon", "nothing is decided by the commitment's own event");
  net.advance(10);
  must(net.tick());
  return p;
}

/** The verifier's honest work on the checked segment of `r`. */
function verifierView(stage: Stage, r: Run) {
  const check = stage.check!;
  const j = check.segment!;
  const from = r.checkpoints[j]!;
  const computed = truth(from, check.toStep!);
  return { j, from, computed, verdict: computed === r.checkpoints[j + 1] ? "match" : "mismatch" } as const;
}

function commitAndReveal(net: LocalNetwork, job: JobId, stage: Stage, r: Run, salt = h("salt")) {
  const verifier = byKey.get(stage.check!.verifier!)!;
  const v = verifierView(stage, r);
  const key = `${job}/train`;
  const reveal = {
    verdict: v.verdict,
    salt,
    verifier: verifier.who.publicKey,
    stage: key,
    computed: v.computed,
  };
  net.advance(10);
  must(
    net.send(verifier.who, "commitVerdict", {
      jobId: job,
      stage: "train",
      commitment: verdictCommitment(reveal),
    }),
  );
  net.advance(10);
  const body = {
    jobId: job,
    stage: "train",
    verdict: v.verdict,
    salt,
    computed: v.computed,
    ...(v.verdict === "mismatch"
      ? {
          agreed: { hash: r.leaves[v.j]!, proof: [...merkleProof(r.leaves, v.j)] },
          claimed: { hash: r.leaves[v.j + 1]!, proof: [...merkleProof(r.leaves, v.j + 1)] },
        }
      : {}),
  };
  return { verifier, v, outcome: net.send(verifier.who, "revealVerdict", body as never) };
}

/** Lets the commitment's challenge window close: an approved result settles at the next tick. */
function closeWindow(net: LocalNetwork): void {
  net.advance(net.state.params.verificationWindowMs + 1);
  must(net.tick());
}

/** Plays the dispute: both parties answer honestly to themselves until the referee is due. */
function playDispute(
  net: LocalNetwork,
  job: JobId,
  stage: Stage,
  r: Run,
  v: { from: Hex32 },
  verifier: SimProvider,
) {
  const provider = providerOf(stage);
  let rounds = 0;
  while (stage.check?.phase === "disputing") {
    const d = stage.check.dispute!;
    const step = d.lo + Math.floor((d.hi - d.lo) / 2);
    net.advance(10);
    must(
      net.send(provider.who, "disputeAnswer", { jobId: job, stage: "train", step, hash: r.claimAt(step) }),
    );
    net.advance(10);
    must(
      net.send(verifier.who, "disputeAnswer", {
        jobId: job,
        stage: "train",
        step,
        hash: truth(v.from, step),
      }),
    );
    rounds++;
  }
  return rounds;
}

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

describe("live replicate:k", () => {
  function submitReplicated(net: LocalNetwork, k: number): JobId {
    const before = new Set(net.state.jobs.keys());
    const base = {
      program: "mlp-train",
      params: {},
      resourceClass: "gpu",
      units: 1,
      seconds: 60,
      maxPricePerUnitSecond: 1_000n,
      inputs: [],
    };
    must(
      net.send(requester, "submitJob", {
        budget: 10_000_000n,
        stages: [
          { ...base, name: "train", after: [], verification: `replicate:${k}` },
          { ...base, name: "use", program: "mlp-eval", after: ["train"], verification: "none" },
        ],
      }),
    );
    return [...net.state.jobs.keys()].find((k2) => !before.has(k2))!;
  }

  function commit(net: LocalNetwork, job: JobId, name: string, root: Hex32, output: Hex32) {
    const stage = net.state.jobs.get(job)!.stages.get(name)!;
    const p = providerOf(stage);
    net.advance(10);
    must(net.send(p.who, "startStage", { jobId: job, stage: name }));
    net.advance(10);
    must(net.send(p.who, "commitResult", { jobId: job, stage: name, root, output, steps: 4 }));
    return p;
  }

  test("k replicas run on distinct providers; the majority is paid, the dissenter is not (and not slashed), dependents get the agreed output", () => {
    const net = network();
    const job = submitReplicated(net, 3);
    const stages = net.state.jobs.get(job)!.stages;
    const members = ["train", "train~2", "train~3"].map((n) => stages.get(n)!);
    const providers = members.map((m) => m.provider);
    assert.equal(new Set(providers).size, 3, "three different providers");
    assert.ok(members.every((m) => m.status === "matched"));
    const good = h("agreed-root");
    const out = h("agreed-output");
    const a = commit(net, job, "train", good, out);
    const dissenter = commit(net, job, "train~2", h("other-root"), h("other-output"));
    const stakeBefore = balanceOf(net.state, staked(dissenter.who.publicKey));
    const paidBefore = balanceOf(net.state, available(dissenter.who.publicKey));
    assert.equal(stages.get("use")!.status, "pending", "waits for the whole group");
    const b = commit(net, job, "train~3", good, out);
    assert.equal(stages.get("train")!.status, "settled");
    assert.equal(stages.get("train~3")!.status, "settled");
    assert.equal(stages.get("train~2")!.status, "failed");
    assert.equal(stages.get("train~2")!.checks?.at(-1)?.outcome, "replica-dissent");
    assert.equal(balanceOf(net.state, staked(dissenter.who.publicKey)), stakeBefore, "a vote is not a proof");
    assert.equal(balanceOf(net.state, available(dissenter.who.publicKey)), paidBefore, "not paid");
    assert.ok(a.who.publicKey !== b.who.publicKey);
    const use = stages.get("use")!;
    assert.equal(use.status, "matched", "the dependent is placed on the agreed result");
    checkAllInvariants(net.state);
  });

  test("without a majority no result is accepted: the stage and its dependents fail and the budget comes back", () => {
    const net = network();
    const requesterBefore = balanceOf(net.state, available(requester.publicKey));
    const job = submitReplicated(net, 2);
    commit(net, job, "train", h("one"), h("o1"));
    commit(net, job, "train~2", h("two"), h("o2"));
    const stages = net.state.jobs.get(job)!.stages;
    assert.equal(stages.get("train")!.status, "failed");
    assert.equal(stages.get("use")!.status, "failed");
    assert.equal(net.state.jobs.get(job)!.status, "finished");
    assert.equal(balanceOf(net.state, available(requester.publicKey)), requesterBefore);
    checkAllInvariants(net.state);
  });

  test("a requester cannot accept a replica early", () => {
    const net = network();
    const job = submitReplicated(net, 2);
    commit(net, job, "train", h("one"), h("o1"));
    const out = net.send(requester, "acceptStage", { jobId: job, stage: "train" });
    assert.equal(out.ok, false);
  });
});

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
