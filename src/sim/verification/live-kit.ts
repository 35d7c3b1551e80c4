/**
 * The in-process network and synthetic runs the live verification tests share
 * (src/core/verification/*-live tests): providers in real cities plus a second EU gpu, a spot-checked
 * EU training stage, and runs whose state hashes follow h(segment start / step) — a cheater's leave
 * that path at a chosen step — with helpers that commit, verify, dispute and close the window.
 */
import assert from "node:assert/strict";
import type { Stage } from "../../core/state.ts";
import { verdictCommitment } from "../../core/verification/committee.ts";
import { utf8 } from "../../protocol/bytes.ts";
import { checkpointSteps } from "../../protocol/checkpoints.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Hex32, JobId } from "../../protocol/ids.ts";
import { merkleProof, merkleRoot } from "../../protocol/merkle.ts";
import { city, must, onboardProviders, type SimProvider, trainStage, worldProviders } from "../fixtures.ts";
import { LocalNetwork, simIdentity } from "../local-network.ts";

export const h = (s: string): Hex32 => taggedHash("test", utf8(s));
export const requester = simIdentity("requester");
export const paris = city("par-gpu-1", "Paris", "FR", ["EU"], 48.8566, 2.3522, "gpu", 8, 40_000, 650n);
export const providers: readonly SimProvider[] = [...worldProviders, paris];
export const byKey = new Map(providers.map((p) => [p.who.publicKey as string, p]));
export const STEPS = 16;
export const EVERY = 8; // two segments of 8 steps: a dispute takes ⌈log₂ 8⌉ = 3 rounds

export function network() {
  const net = new LocalNetwork({ params: { verificationWindowMs: 5_000 } });
  onboardProviders(net, providers);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

export function submitSpot(net: LocalNetwork, sealed = false): JobId {
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
export const truth = (from: Hex32, step: number): Hex32 => h(`${from}/${step}`);

export interface Run {
  readonly checkpoints: Hex32[];
  readonly leaves: Hex32[];
  readonly root: Hex32;
  /** The provider's claim at any step (what it answers in a dispute). */
  readonly claimAt: (step: number) => Hex32;
}

/** A run whose claims follow the truth until `cheatFrom` (never, for an honest run). */
export function run(seedName: string, cheatFrom = Number.POSITIVE_INFINITY): Run {
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
export const phaseOf = (stage: Stage): string | undefined => stage.check?.phase;

export function stageOf(net: LocalNetwork, job: JobId): Stage {
  return net.state.jobs.get(job)!.stages.get("train")!;
}

export function providerOf(stage: Stage): SimProvider {
  return byKey.get(stage.provider!)!;
}

/** Start and commit `r` as the stage's current provider; then one tick draws the beacon. */
export function startAndCommit(net: LocalNetwork, job: JobId, r: Run): SimProvider {
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
export function verifierView(stage: Stage, r: Run) {
  const check = stage.check!;
  const j = check.segment!;
  const from = r.checkpoints[j]!;
  const computed = truth(from, check.toStep!);
  return { j, from, computed, verdict: computed === r.checkpoints[j + 1] ? "match" : "mismatch" } as const;
}

export function commitAndReveal(net: LocalNetwork, job: JobId, stage: Stage, r: Run, salt = h("salt")) {
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
export function closeWindow(net: LocalNetwork): void {
  net.advance(net.state.params.verificationWindowMs + 1);
  must(net.tick());
}

/** Plays the dispute: both parties answer honestly to themselves until the referee is due. */
export function playDispute(
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
