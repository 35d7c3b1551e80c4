/**
 * Failover in the core: progress reports, the resume point kept when a provider misses its run
 * deadline, the resumed commitment, and the payment split by steps. Hashes are synthetic; the
 * runtime's real ones are exercised end to end by test/failover.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { utf8 } from "../../protocol/bytes.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Cid, Hex32, JobId, PublicKeyHex } from "../../protocol/ids.ts";
import type { StageSpec } from "../../protocol/messages.ts";
import type { Params } from "../../protocol/params.ts";
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
import { available, escrow, staked, treasury } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { replay } from "../replay.ts";
import type { Stage } from "../state.ts";
import { checkpointCount, checkpointStep, payoutsOf } from "./progress.ts";

const h = (s: string): Hex32 => taggedHash("test", utf8(s));
const cid = (s: string): Cid => h(s) as string as Cid;
const requester = simIdentity("requester");
const paris = city("par-gpu-1", "Paris", "FR", ["EU"], 48.8566, 2.3522, "gpu", 8, 40_000, 650n);
const providers: readonly SimProvider[] = [...worldProviders, paris];
const byKey = new Map(providers.map((p) => [p.who.publicKey as string, p]));
const STEPS = 100;
const EVERY = 10; // checkpoints at 0, 10, …, 100: eleven of them

function network(params: Partial<Params> = {}) {
  const net = new LocalNetwork({ params: { verificationWindowMs: 5_000, ...params } });
  onboardProviders(net, providers);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

function submitTrain(net: LocalNetwork, verification: StageSpec["verification"] = "none"): JobId {
  return submitJobOf(net, requester, [trainStage({ jurisdictions: ["EU"], verification })]);
}

const stageOf = (net: LocalNetwork, job: JobId): Stage => net.state.jobs.get(job)!.stages.get("train")!;
const who = (key: PublicKeyHex | undefined) => byKey.get(key as string)!.who;
/** The (synthetic) hash of checkpoint i of the one true run. */
const cp = (i: number) => h(`checkpoint ${i}`);
const hashes = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => cp(from + k));

function report(index: number, after: number, layout: { steps?: number; every?: number } = {}) {
  const steps = layout.steps ?? STEPS;
  const every = layout.every ?? EVERY;
  return {
    index,
    step: checkpointStep(index, steps, every),
    steps,
    checkpointEvery: every,
    checkpoints: hashes(after + 1, index),
    state: cid(`state ${index}`),
  };
}

/** Placed and started on its first provider (Frankfurt, the cheapest EU gpu). */
function running(net: LocalNetwork, verification: StageSpec["verification"] = "none") {
  const job = submitTrain(net, verification);
  const stage = stageOf(net, job);
  const first = who(stage.provider);
  net.advance(100);
  must(net.send(first, "startStage", { jobId: job, stage: "train" }));
  return { job, stage, first };
}

function send(net: LocalNetwork, signer: ReturnType<typeof who>, job: JobId, body: object) {
  return net.send(signer, "reportProgress", { jobId: job, stage: "train", ...body } as never);
}

/** Reports up to checkpoint 3 (step 30), then lets the run deadline pass. */
function vanishAfter(net: LocalNetwork, index = 3) {
  const r = running(net);
  must(send(net, r.first, r.job, report(index, -1)));
  net.advance(r.stage.deadline! - net.now + 1);
  const out = must(net.tick());
  return { ...r, out, second: who(r.stage.provider) };
}

describe("reportProgress", () => {
  test("the running provider's reports are kept, each continuing the last", () => {
    const net = network();
    const { job, stage, first } = running(net);
    must(send(net, first, job, report(2, -1)));
    assert.equal(stage.progress?.index, 2);
    assert.equal(stage.progress?.step, 20);
    assert.deepEqual(stage.progress?.checkpoints, hashes(0, 2));
    must(send(net, first, job, report(5, 2)));
    assert.equal(stage.progress?.hash, cp(5));
    assert.deepEqual(stage.progress?.checkpoints, hashes(0, 5));
    assert.equal(stage.progress?.by, first.publicKey);
    checkAllInvariants(net.state);
  });

  const refusals: ReadonlyArray<
    [string, string, (n: LocalNetwork, r: ReturnType<typeof running>) => object]
  > = [
    ["another provider reports", "NOT_AUTHORIZED", () => ({ ...report(1, -1), as: "other" })],
    ["the step is not the checkpoint's", "MALFORMED", () => ({ ...report(2, -1), step: 25 })],
    ["the index is past the last checkpoint", "MALFORMED", () => report(11, -1, {})],
    ["the hashes do not cover the gap", "MALFORMED", () => ({ ...report(3, -1), checkpoints: hashes(1, 3) })],
    [
      "the report does not move forward",
      "ILLEGAL_TRANSITION",
      (n, r) => {
        must(send(n, r.first, r.job, report(4, -1)));
        return report(4, 3);
      },
    ],
    [
      "the layout changes between reports",
      "MALFORMED",
      (n, r) => {
        must(send(n, r.first, r.job, report(2, -1)));
        return report(4, 2, { every: 5 });
      },
    ],
  ];
  for (const [name, code, make] of refusals) {
    test(`error: ${name} (${code}) and nothing changes`, () => {
      const net = network();
      const r = running(net);
      const { as, ...body } = make(net, r) as { as?: string };
      const signer = as === "other" ? providers[1]!.who : r.first;
      const before = stateHash(net.state);
      const out = send(net, signer, r.job, body);
      assert.equal(out.ok, false);
      assert.equal(!out.ok && out.error.code, code);
      assert.equal(stateHash(net.state), before);
    });
  }

  test("error: a stage that is not running takes no report", () => {
    const net = network();
    const job = submitTrain(net);
    const stage = stageOf(net, job);
    const out = send(net, who(stage.provider), job, report(1, -1));
    assert.equal(!out.ok && out.error.code, "ILLEGAL_TRANSITION");
    assert.equal(stage.progress, undefined);
  });

  test("checkpointCount and checkpointStep agree with the runtime's layout", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 60 }), (steps, every) => {
        const at: number[] = [];
        for (let s = 0; s < steps; s += every) at.push(s);
        at.push(steps);
        assert.equal(checkpointCount(steps, every), at.length);
        for (const [i, s] of at.entries()) assert.equal(checkpointStep(i, steps, every), s);
      }),
    );
  });
});

describe("failover", () => {
  test("a missed run deadline keeps the reported checkpoint and places the stage on another provider", () => {
    const net = network();
    const stakeBefore = balanceOf(net.state, staked(worldProviders[0]!.who.publicKey));
    const { stage, first, second, out } = vanishAfter(net);
    assert.notEqual(second.publicKey, first.publicKey);
    assert.equal(second.publicKey, paris.who.publicKey, "the other EU gpu");
    assert.equal(stage.status, "matched");
    assert.equal(stage.progress, undefined, "progress belongs to the provider that reported it");
    assert.equal(stage.resumeFrom?.index, 3);
    assert.equal(stage.resumeFrom?.step, 30);
    assert.equal(stage.resumeFrom?.by, first.publicKey);
    assert.deepEqual(stage.resumeFrom?.checkpoints, hashes(0, 3));
    assert.deepEqual(
      stage.handoffs?.map((x) => [x.provider, x.fromStep, x.toStep, x.index]),
      [[first.publicKey, 0, 30, 3]],
    );
    assert.deepEqual(stage.timedOut, [first.publicKey]);
    assert.ok(out.effects.some((e) => e.type === "stageReassigned"));
    assert.ok(out.effects.some((e) => e.type === "assign" && e.provider === second.publicKey));
    const slashed = stakeBefore - balanceOf(net.state, staked(first.publicKey));
    assert.equal(slashed, stakeBefore / 100n, "slashed timeoutSlashBps for vanishing, as before");
    checkAllInvariants(net.state);
  });

  test("a missed deadline without a report resumes nothing", () => {
    const net = network();
    const { stage } = running(net);
    net.advance(stage.deadline! - net.now + 1);
    must(net.tick());
    assert.equal(stage.resumeFrom, undefined);
    assert.equal(stage.handoffs, undefined);
  });

  test("the resuming provider reports on from the resume point, and commits in its layout", () => {
    const net = network();
    const { job, stage, second } = vanishAfter(net);
    must(net.send(second, "startStage", { jobId: job, stage: "train" }));
    // Its first report continues from checkpoint 3: it carries the hashes of 4…6 only.
    const wrong = send(net, second, job, report(6, -1));
    assert.equal(!wrong.ok && wrong.error.code, "MALFORMED");
    must(send(net, second, job, report(6, 3)));
    assert.deepEqual(stage.progress?.checkpoints, hashes(0, 6));
    const commit = { jobId: job, stage: "train", root: h("root"), output: cid("out"), steps: STEPS };
    const before = stateHash(net.state);
    const other = net.send(second, "commitResult", { ...commit, checkpointEvery: 5 });
    assert.equal(!other.ok && other.error.code, "MALFORMED", "a different layout would not match the prefix");
    assert.equal(stateHash(net.state), before);
    must(net.send(second, "commitResult", { ...commit, checkpointEvery: EVERY }));
    assert.equal(stage.status, "committed");
    assert.equal(stage.progress, undefined);
  });

  test("settlement pays each provider for its own steps; the parts sum to the cost; replay agrees", () => {
    const net = network();
    const { job, stage, first, second } = vanishAfter(net);
    const firstBefore = balanceOf(net.state, available(first.publicKey));
    const secondBefore = balanceOf(net.state, available(second.publicKey));
    const treasuryBefore = balanceOf(net.state, treasury);
    must(net.send(second, "startStage", { jobId: job, stage: "train" }));
    must(
      net.send(second, "commitResult", {
        jobId: job,
        stage: "train",
        root: h("root"),
        output: cid("out"),
        steps: STEPS,
        checkpointEvery: EVERY,
      }),
    );
    net.advance(5_001);
    must(net.tick());
    assert.equal(stage.status, "settled");
    const cost = paris.pricePerUnitSecond * 60n;
    const firstShare = (cost * 30n) / 100n;
    assert.equal(stage.paid, cost);
    assert.deepEqual(
      stage.payouts?.map((p) => [p.provider, p.fromStep, p.toStep, p.amount]),
      [
        [first.publicKey, 0, 30, firstShare],
        [second.publicKey, 30, 100, cost - firstShare],
      ],
    );
    assert.equal(balanceOf(net.state, available(first.publicKey)) - firstBefore, firstShare);
    assert.equal(balanceOf(net.state, available(second.publicKey)) - secondBefore, cost - firstShare);
    assert.equal(balanceOf(net.state, treasury) - treasuryBefore, stage.fee);
    assert.equal(balanceOf(net.state, escrow(job)), 0n);
    checkAllInvariants(net.state);
    assert.equal(stateHash(replay(net.log)), stateHash(net.state), "replay of the log gives the same state");
  });

  test("a vanished provider is not paid when the stage never delivers an accepted result", () => {
    const net = network({ maxAttempts: 2 });
    const { job, stage, first, second } = vanishAfter(net);
    const firstBefore = balanceOf(net.state, available(first.publicKey));
    must(net.send(second, "startStage", { jobId: job, stage: "train" }));
    net.advance(stage.deadline! - net.now + 1);
    must(net.tick());
    assert.equal(stage.status, "failed");
    assert.equal(balanceOf(net.state, available(first.publicKey)), firstBefore);
    assert.equal(net.state.jobs.get(job)!.refund, 10_000_000n);
    checkAllInvariants(net.state);
  });

  test("a spot check of a resumed stage draws only from the segments its finisher computed, never by the vanished provider", () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const net = network();
      const r = running(net, "spot");
      must(send(net, r.first, r.job, report(7, -1)));
      net.advance(r.stage.deadline! - net.now + 1);
      must(net.tick());
      const second = who(r.stage.provider);
      must(net.send(second, "startStage", { jobId: r.job, stage: "train" }));
      must(
        net.send(second, "commitResult", {
          jobId: r.job,
          stage: "train",
          root: h(`root ${attempt}`),
          output: cid("out"),
          steps: STEPS,
          checkpointEvery: EVERY,
          manifest: cid("manifest"),
        }),
      );
      net.advance(1);
      must(net.tick()); // the event after the commitment draws the check
      const segment = r.stage.check?.segment ?? r.stage.checks?.at(-1)?.segment;
      assert.ok(segment !== undefined && segment >= 7 && segment < 10, `segment ${segment}`);
      // It is paid for its prefix only if the result is accepted: it must not judge the result.
      assert.ok(r.stage.check?.verifier !== undefined);
      assert.notEqual(r.stage.check?.verifier, r.first.publicKey);
    }
  });

  test("property: the split pays every step once — parts sum to the cost, each within a micro-credit of its share", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 4 }),
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        (steps, rawCuts, cost) => {
          const cuts = [...new Set(rawCuts.map((c) => c % steps))].filter((c) => c > 0).sort((a, b) => a - b);
          if (cuts.length === 0) return;
          const keys = cuts.map((_, i) => `${i}`.padStart(64, "0") as PublicKeyHex);
          const stage = {
            steps,
            provider: "f".repeat(64) as PublicKeyHex,
            handoffs: cuts.map((to, i) => ({
              provider: keys[i]!,
              fromStep: i === 0 ? 0 : cuts[i - 1]!,
              toStep: to,
              index: i + 1,
              at: 0,
            })),
          } as unknown as Stage;
          const payouts = payoutsOf(stage, cost)!;
          assert.equal(
            payouts.reduce((n, p) => n + p.amount, 0n),
            cost,
          );
          let covered = 0;
          for (const p of payouts) {
            assert.equal(p.fromStep, covered, "the parts cover the steps in order, without overlap");
            covered = p.toStep;
            assert.ok(p.amount >= 0n);
            const exact = cost * BigInt(p.toStep - p.fromStep);
            // Each vanished provider gets its share rounded down; the finisher the rest (≤ its share + the roundings).
            assert.ok(p.amount * BigInt(steps) <= exact + BigInt(payouts.length) * BigInt(steps));
          }
          assert.equal(covered, steps);
        },
      ),
    );
  });
});

describe("progress lease (progressTimeoutMs)", () => {
  // Run deadline = 60 s declared × 100 % + 0 grace = 60 s after the start; the lease is 10 s.
  const leased = { progressTimeoutMs: 10_000, runDeadlinePercent: 100, runGraceMs: 0 } as const;

  test("a provider silent for the lease after reporting loses the stage long before its run deadline, and the next resumes", () => {
    const net = network(leased);
    const r = running(net);
    const started = net.now;
    assert.equal(r.stage.runDeadline, started + 60_000);
    assert.equal(r.stage.deadline, started + 60_000, "no lease before the first report");
    net.advance(4_000);
    must(send(net, r.first, r.job, report(3, -1)));
    assert.equal(r.stage.deadline, net.now + 10_000, "the first report started the lease");
    const reported = net.now;
    net.advance(9_999);
    must(net.tick());
    assert.equal(r.stage.status, "running", "still inside the lease");
    net.advance(2);
    const out = must(net.tick());
    assert.ok(net.now < started + 60_000 && net.now > reported + 10_000);
    assert.deepEqual(r.stage.timedOut, [r.first.publicKey]);
    assert.equal(r.stage.status, "matched");
    assert.equal(r.stage.provider, paris.who.publicKey);
    assert.equal(r.stage.resumeFrom?.index, 3, "resumed from the last report, as after a run deadline");
    assert.equal(r.stage.runDeadline, undefined, "the new provider's lease starts when it starts");
    assert.ok(out.effects.some((e) => e.type === "stageReassigned"));
    checkAllInvariants(net.state);
    assert.equal(stateHash(replay(net.log)), stateHash(net.state), "replay gives the same state");
  });

  test("a provider that keeps reporting keeps its stage until the run deadline, which still bounds it", () => {
    const net = network(leased);
    const r = running(net);
    const runDeadline = r.stage.runDeadline!;
    for (let index = 1; net.now + 8_000 < runDeadline; index++) {
      net.advance(8_000);
      must(send(net, r.first, r.job, report(index, index === 1 ? -1 : index - 1)));
      assert.equal(r.stage.deadline, Math.min(runDeadline, net.now + 10_000));
      must(net.tick());
      assert.equal(r.stage.status, "running");
    }
    assert.equal(r.stage.deadline, runDeadline, "the lease never extends past the run deadline");
    net.advance(runDeadline - net.now + 1);
    must(net.tick());
    assert.deepEqual(r.stage.timedOut, [r.first.publicKey]);
  });

  test("a provider that never reports (a QAOA loop half) keeps its stage until the run deadline under a lease", () => {
    const net = network(leased);
    const r = running(net);
    const runDeadline = r.stage.runDeadline!;
    net.advance(30_000);
    must(net.tick());
    assert.equal(r.stage.status, "running", "30 s of silence, three leases long, before any report");
    net.advance(runDeadline - net.now + 1);
    must(net.tick());
    assert.deepEqual(r.stage.timedOut, [r.first.publicKey], "the run deadline still catches it");
  });

  test("without the parameter a silent provider keeps its stage until the run deadline", () => {
    const net = network({ runDeadlinePercent: 100, runGraceMs: 0 });
    const r = running(net);
    assert.equal(r.stage.runDeadline, undefined);
    assert.equal(r.stage.deadline, net.now + 60_000);
    net.advance(30_000);
    must(net.tick());
    assert.equal(r.stage.status, "running");
  });

  test("the lease ends at commit: a committed stage waits for its verification window only", () => {
    const net = network(leased);
    const r = running(net);
    net.advance(1_000);
    must(
      net.send(r.first, "commitResult", {
        jobId: r.job,
        stage: "train",
        root: h("root"),
        output: cid("output"),
        steps: STEPS,
      } as never),
    );
    assert.equal(r.stage.status, "committed");
    assert.equal(r.stage.runDeadline, undefined);
    assert.equal(r.stage.deadline, net.now + 5_000);
  });
});
