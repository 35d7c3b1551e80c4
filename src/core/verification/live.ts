/**
 * Verification in the live state machine (docs/verification.md §5): what happens to a committed
 * result between `committed` and `accepted`, built from the pure pieces of this folder.
 *
 *   commitResult ─▶ [beacon of a LATER event] ─ spot rate from stake, price, reputation ─▶ checked?
 *      no  ─▶ the challenge window closes ─▶ settle (outcome "unchecked")
 *      yes ─▶ verifier drawn (never the provider) ─▶ commitVerdict ─▶ revealVerdict
 *               match    ─▶ verifier paid from escrow, provider paid, reputation +1 ("verified")
 *               mismatch ─▶ bisection over the segment's steps (disputeAnswer × ⌈log₂ k⌉ rounds)
 *                           ─▶ referee drawn, executes ONE step (refereeVerdict)
 *                           ─▶ loser slashed; winner and referee paid from the slash;
 *                              a provider proven wrong is not paid and the stage is placed again
 *   Silence at any deadline loses: a silent verifier or referee is replaced (and slashed for the
 *   delay), a silent dispute party loses the dispute.
 *
 * Every handler validates before its first write (docs/decisions/001).
 */

import { checkpointSteps } from "../../protocol/checkpoints.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Cid, Hex32, PublicKeyHex } from "../../protocol/ids.ts";
import type { MessageBody, StageSpec } from "../../protocol/messages.ts";
import type { ApplyContext, MessageContext } from "../context.ts";
import { firstCheckableSegment } from "../jobs/progress.ts";
import { stageCost } from "../jobs/settle.ts";
import { available, staked } from "../ledger/accounts.ts";
import { slashForDelay } from "../ledger/handlers.ts";
import { balanceOf, bpsCeil } from "../ledger/ledger.ts";
import { riskPpm } from "../reputation/reputation.ts";
import type { Check, CheckOutcome, Job, Stage, State } from "../state.ts";
import { stageKey } from "../state.ts";
import { beacon } from "./beacon.ts";
import { resolveCanaryDispute } from "./canaries-live.ts";
import {
  assignReferee,
  assignVerifier,
  disputePartyOf,
  findCheck,
  finish,
  keyWithheld,
  provesSegment,
  queryStep,
  reputationOf,
  requirePhase,
  segmentDispute,
  segmentsOf,
  slashFault,
  startDispute,
} from "./check-steps.ts";
import { revealMatches } from "./committee.ts";
import { answerDispute, type DisputeOutcome, expireDispute, refereeDispute } from "./dispute.ts";
import { decideSpotCheck, spotCheckRate } from "./policy.ts";

/** What a stage reserves in escrow for its verification: one verifier fee on the maximum cost. */
export function verificationReserve(spec: StageSpec, verifierFeeBps: number): bigint {
  if (spec.verification !== "spot") return 0n;
  return bpsCeil(spec.maxPricePerUnitSecond * BigInt(spec.units) * BigInt(spec.seconds), verifierFeeBps);
}

/** Checks a commitment's layout fits its policy, before anything is written. */
export function checkCommitLayout(stage: Stage, body: MessageBody<"commitResult">): void {
  if (stage.spec.verification !== "spot") return;
  if (body.checkpointEvery === undefined || body.manifest === undefined) {
    throw new SwitchyardError(
      "MALFORMED",
      `stage ${stage.spec.name} is spot-checked: its commitment must name checkpointEvery and a manifest`,
    );
  }
}

/** Called when a result is committed: a spot-checked stage waits for the next event's beacon. */
export function onCommitted(ctx: ApplyContext, key: string, stage: Stage): void {
  if (stage.spec.verification !== "spot") return;
  stage.check = {
    phase: "beacon",
    commitSeq: ctx.seq,
    skipped: [],
    sources: [],
    windowEnd: ctx.time + ctx.state.params.verificationWindowMs,
  };
  ctx.state.awaitingBeacon.set(key, true);
}

function split(key: string, state: State): { job: Job; stage: Stage } | undefined {
  const slash = key.indexOf("/");
  const job = state.jobs.get(key.slice(0, slash) as Job["id"]);
  const stage = job?.stages.get(key.slice(slash + 1));
  return job === undefined || stage === undefined ? undefined : { job, stage };
}

/**
 * After every applied event: stages committed by an EARLIER event draw their check from this
 * event's beacon (the hash of the event before it, which includes the commitment).
 */
export function drawBeacons(ctx: ApplyContext): void {
  const { state } = ctx;
  if (state.awaitingBeacon.size === 0) return;
  for (const key of [...state.awaitingBeacon.keys()]) {
    const found = split(key, state);
    const check = found?.stage.check;
    if (found === undefined || check === undefined || check.phase !== "beacon") {
      state.awaitingBeacon.delete(key);
      continue;
    }
    if (check.commitSeq >= ctx.seq) continue;
    state.awaitingBeacon.delete(key);
    decide(ctx, found.job, key, found.stage, check);
  }
}

function decide(ctx: ApplyContext, job: Job, key: string, stage: Stage, check: Check): void {
  const { state } = ctx;
  const p = state.params;
  const provider = stage.provider!;
  const cost = stageCost(stage);
  const fee = bpsCeil(cost, p.verifierFeeBps);
  const rate = spotCheckRate(
    {
      paymentMicro: cost,
      stakeMicro: balanceOf(state, staked(provider)),
      slashBps: p.fraudSlashBps,
      cheatGainMicro: cost,
      verifierFeeMicro: fee,
      riskPpm: riskPpm(reputationOf(state, provider, stage)),
    },
    { floorPpm: p.spotFloorPpm, marginPpm: p.spotMarginPpm, newcomerPpm: p.spotNewcomerPpm },
  );
  check.ratePpm = rate.ppm;
  check.breakEvenPpm = rate.breakEvenPpm;
  check.fee = fee;
  // A resumed stage is checked on the segments its finishing provider computed (jobs/progress.ts).
  const first = firstCheckableSegment(stage);
  const segments = segmentsOf(stage) - first;
  if (segments <= 0) {
    finish(ctx, job, key, stage, "unchecked");
    return;
  }
  const seed = beacon(ctx.prev, `spot/${key}`);
  const decision = decideSpotCheck(seed, rate.ppm, segments);
  check.segment = first + decision.segment;
  const at = checkpointSteps(stage.steps!, stage.checkpointEvery!);
  check.fromStep = at[check.segment]!;
  check.toStep = at[check.segment + 1]!;
  ctx.journal.jobs.add(job.id);
  if (!decision.checked) {
    // The challenge window set at the commitment still runs; the tick settles it.
    finish(ctx, job, key, stage, "unchecked", { keepWindow: true });
    return;
  }
  assignVerifier(ctx, job, key, stage, check);
}

export function applyCommitVerdict(ctx: MessageContext, body: MessageBody<"commitVerdict">): void {
  const { job, stage, check } = findCheck(ctx.state, body);
  requirePhase(check, "verifying", "commit a verdict");
  if (check.verifier !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", `stage ${stage.spec.name} is checked by another verifier`);
  check.commitment = body.commitment as Hex32;
  check.phase = "revealing";
  ctx.journal.jobs.add(job.id);
}

export function applyRevealVerdict(ctx: MessageContext, body: MessageBody<"revealVerdict">): void {
  const { job, stage, check, key } = findCheck(ctx.state, body);
  requirePhase(check, "revealing", "reveal a verdict");
  if (check.verifier !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", `stage ${stage.spec.name} is checked by another verifier`);
  const opened = revealMatches(check.commitment!, {
    verdict: body.verdict,
    salt: body.salt,
    verifier: ctx.signer,
    stage: key,
    computed: body.computed,
  });
  if (!opened) throw new SwitchyardError("MALFORMED", "the reveal does not open the committed verdict");
  if (body.verdict === "withheld") {
    if (check.revealed !== undefined) {
      // The coordinator vouched for the revealed state when it sequenced revealState: it is there.
      throw new SwitchyardError(
        "ILLEGAL_TRANSITION",
        "the provider already revealed this segment's start state: fetch it from the coordinator",
      );
    }
    // The provider must now reveal the segment's start state, or lose by silence.
    check.phase = "withheld";
    stage.deadline = ctx.time + ctx.state.params.disputeRoundMs;
    ctx.journal.jobs.add(job.id);
    return;
  }
  if (body.verdict === "match") {
    check.computed = body.computed as Hex32;
    if (check.windowEnd !== undefined && ctx.time < check.windowEnd) {
      // Approved; it settles when the challenge window closes (a canary may be revealed until then).
      check.phase = "approved";
      stage.deadline = check.windowEnd;
      ctx.journal.jobs.add(job.id);
      return;
    }
    finish(ctx, job, key, stage, "verified");
    return;
  }
  // A mismatch must bind the provider to the two checkpoints it disputes.
  const { agreed, claimed } = body;
  if (!provesSegment(stage, check, agreed, claimed)) {
    throw new SwitchyardError(
      "MALFORMED",
      `a mismatch must prove the provider's checkpoints ${check.segment} and ${check.segment! + 1} against its root`,
    );
  }
  if (claimed!.hash === body.computed)
    throw new SwitchyardError("MALFORMED", "a mismatch cannot agree with the claimed checkpoint");
  const dispute = segmentDispute(ctx, check, agreed!.hash, claimed!.hash, body.computed);
  check.computed = body.computed as Hex32;
  if (body.state !== undefined)
    check.sources.push({ step: check.fromStep!, cid: body.state as Cid, holder: ctx.signer });
  startDispute(ctx, job, key, stage, check, dispute);
}

export function applyDisputeAnswer(ctx: MessageContext, body: MessageBody<"disputeAnswer">): void {
  const { job, stage, check, key } = findCheck(ctx.state, body);
  requirePhase(check, "disputing", "answer a dispute round");
  const party = disputePartyOf(stage, check, ctx.signer);
  if (party === undefined)
    throw new SwitchyardError("NOT_AUTHORIZED", `only the provider and the verifier answer this dispute`);
  const step = queryStep(check);
  if (body.step !== step) {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `this round asks for step ${step}, not ${body.step}`, {
      details: { step },
    });
  }
  const next = answerDispute(check.dispute!, party, body.hash as Hex32, ctx.time);
  check.dispute = next;
  if (body.state !== undefined) check.sources.push({ step, cid: body.state as Cid, holder: ctx.signer });
  ctx.journal.jobs.add(job.id);
  if (next.phase === "referee") {
    assignReferee(ctx, job, key, stage, check);
    return;
  }
  if (Object.keys(next.answers).length === 0) {
    // Both answered: the round closed and the next one asks for a new step, with a new deadline.
    stage.deadline = next.deadline;
    ctx.effects.push({ type: "disputeRound", jobId: job.id, stage: stage.spec.name, step: queryStep(check) });
  }
}

export function applyRefereeVerdict(ctx: MessageContext, body: MessageBody<"refereeVerdict">): void {
  const { job, stage, check, key } = findCheck(ctx.state, body);
  requirePhase(check, "refereeing", "referee");
  if (check.referee !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", `stage ${stage.spec.name} has another referee`);
  const done = refereeDispute(check.dispute!, body.hash as Hex32);
  check.dispute = done;
  resolveDispute(ctx, job, key, stage, check, done.outcome!);
}

/** The requester accepts a result before its check was drawn: it waives the check. */
export function waiveCheck(ctx: ApplyContext, job: Job, stage: Stage): void {
  finish(ctx, job, stageKey(job.id, stage.spec.name), stage, "waived");
}

/** At a tick, for a committed stage whose verification deadline passed. */
export function expireCheck(ctx: ApplyContext, job: Job, key: string, stage: Stage): void {
  const check = stage.check!;
  ctx.journal.jobs.add(job.id);
  switch (check.phase) {
    case "beacon":
      return; // decided at the end of this event by drawBeacons
    case "verifying":
    case "revealing": {
      const silent = check.verifier!;
      if (!keyWithheld(job, stage, silent))
        slashForDelay(
          ctx,
          silent,
          available(job.requester),
          `did not reveal a verdict on ${stage.spec.name} in time`,
        );
      check.skipped.push(silent);
      delete check.verifier;
      assignVerifier(ctx, job, key, stage, check);
      return;
    }
    case "approved":
      finish(ctx, job, key, stage, "verified");
      return;
    case "withheld": {
      // The provider did not reveal what a check needs: it loses by silence, and the verifier,
      // which did its part, is paid from the slash.
      const provider = stage.provider!;
      const amount = slashFault(
        ctx,
        job,
        provider,
        [[check.verifier, check.fee ?? 0n]],
        `withheld the state of ${stage.spec.name} from its verifier`,
      );
      finish(ctx, job, key, stage, "provider-silent", { slashed: [{ who: provider, amount }] });
      return;
    }
    case "disputing": {
      const done = expireDispute(check.dispute!, ctx.time);
      check.dispute = done;
      resolveDispute(ctx, job, key, stage, check, done.outcome!);
      return;
    }
    case "refereeing": {
      const silent = check.referee!;
      if (!keyWithheld(job, stage, silent))
        slashForDelay(ctx, silent, available(job.requester), `did not referee ${stage.spec.name} in time`);
      check.skipped.push(silent);
      delete check.referee;
      assignReferee(ctx, job, key, stage, check);
      return;
    }
    default: {
      const never: never = check.phase;
      throw new SwitchyardError("INVARIANT_VIOLATED", `unknown verification phase ${String(never)}`);
    }
  }
}

function resolveDispute(
  ctx: ApplyContext,
  job: Job,
  key: string,
  stage: Stage,
  check: Check,
  outcome: DisputeOutcome,
): void {
  if (check.canary !== undefined) {
    resolveCanaryDispute(ctx, job, key, stage, check, outcome);
    return;
  }
  const provider = stage.provider!;
  const verifier = check.verifier!;
  const fee = check.fee ?? 0n;
  const name = stage.spec.name;
  const slashed: Array<{ who: PublicKeyHex; amount: bigint }> = [];
  const providerLost = outcome.losers.includes("provider");
  const verifierLost = outcome.losers.includes("challenger");
  if (providerLost) {
    const why =
      outcome.reason === "silence"
        ? `went silent in the dispute over ${name}`
        : `committed a wrong result for ${name} (referee)`;
    const payees = verifierLost
      ? [[check.referee, fee] as const]
      : [[check.referee, fee] as const, [verifier, fee] as const];
    slashed.push({ who: provider, amount: slashFault(ctx, job, provider, payees, why) });
  }
  if (verifierLost) {
    const why =
      outcome.reason === "silence"
        ? `went silent in the dispute over ${name}`
        : `disputed a correct result of ${name} (referee)`;
    const payees = providerLost ? [] : [[check.referee, fee] as const, [provider, fee] as const];
    slashed.push({ who: verifier, amount: slashFault(ctx, job, verifier, payees, why) });
  }
  const result: CheckOutcome =
    outcome.reason === "silence"
      ? providerLost && verifierLost
        ? "both-silent"
        : providerLost
          ? "provider-silent"
          : "verifier-silent"
      : providerLost && verifierLost
        ? "both-wrong"
        : providerLost
          ? "fraud-proven"
          : "verifier-wrong";
  finish(ctx, job, key, stage, result, { slashed });
}

/**
 * The provider answers a `withheld` verdict with the checked segment's start state (already in the
 * coordinator's blob cache — the coordinator checks its bytes against `agreed` before sequencing
 * this) and the segment's two checkpoints, proven against its root. The same verifier checks again.
 */
export function applyRevealState(ctx: MessageContext, body: MessageBody<"revealState">): void {
  const { job, stage, check } = findCheck(ctx.state, body);
  requirePhase(check, "withheld", "reveal the checked state");
  if (stage.provider !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", "only the stage's provider reveals its state");
  if (!provesSegment(stage, check, body.agreed, body.claimed)) {
    throw new SwitchyardError(
      "MALFORMED",
      `reveal checkpoints ${check.segment} and ${check.segment! + 1} with proofs against the committed root`,
    );
  }
  check.revealed = {
    state: body.state as Cid,
    agreed: { hash: body.agreed.hash as Hex32, proof: body.agreed.proof as Hex32[] },
    claimed: { hash: body.claimed.hash as Hex32, proof: body.claimed.proof as Hex32[] },
  };
  check.phase = "verifying";
  delete check.commitment;
  stage.deadline = ctx.time + ctx.state.params.verdictWindowMs;
  ctx.journal.jobs.add(job.id);
  ctx.effects.push({ type: "verify", jobId: job.id, stage: stage.spec.name, verifier: check.verifier! });
}
