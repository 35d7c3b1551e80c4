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
import { hashCanonical } from "../../protocol/hash.ts";
import type { Cid, Hex32, PublicKeyHex } from "../../protocol/ids.ts";
import { verifyMerkleProof } from "../../protocol/merkle.ts";
import type { MessageBody, StageSpec } from "../../protocol/messages.ts";
import type { ApplyContext, MessageContext } from "../context.ts";
import { transition } from "../jobs/lifecycle.ts";
import { placePending, releasePlacement } from "../jobs/placement.ts";
import { firstCheckableSegment } from "../jobs/progress.ts";
import { acceptAndContinue, failStage, finishJobIfDone, stageCost } from "../jobs/settle.ts";
import { available, escrow, staked, unbondingAccount } from "../ledger/accounts.ts";
import { slash } from "../ledger/handlers.ts";
import { balanceOf, bpsCeil, bpsFloor, post } from "../ledger/ledger.ts";
import {
  emptyReputation,
  type ReputationOutcome,
  recordOutcome,
  reputationKey,
  riskPpm,
} from "../reputation/reputation.ts";
import { isRestricted, mayHoldStageKey } from "../routing/keys.ts";
import type { Check, CheckOutcome, CheckRecord, Job, Stage, State } from "../state.ts";
import { stageKey } from "../state.ts";
import { beacon } from "./beacon.ts";
import { revealMatches, selectVerifiers } from "./committee.ts";
import {
  answerDispute,
  type DisputeOutcome,
  type DisputeParty,
  type DisputeState,
  disputeQuery,
  expireDispute,
  openDispute,
  refereeDispute,
} from "./dispute.ts";
import { decideSpotCheck, spotCheckRate } from "./policy.ts";

/** What a stage reserves in escrow for its verification: one verifier fee on the maximum cost. */
export function verificationReserve(spec: StageSpec, verifierFeeBps: number): bigint {
  if (spec.verification !== "spot") return 0n;
  return bpsCeil(spec.maxPricePerUnitSecond * BigInt(spec.units) * BigInt(spec.seconds), verifierFeeBps);
}

/** The number of segments of a committed result (0 when it has no steps or no layout). */
export function segmentsOf(stage: Stage): number {
  if (stage.steps === undefined || stage.checkpointEvery === undefined || stage.steps === 0) return 0;
  return checkpointSteps(stage.steps, stage.checkpointEvery).length - 1;
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

const workloadOf = (stage: Stage): string => stage.spec.program;

function reputationOf(state: State, provider: PublicKeyHex, stage: Stage) {
  return state.reputation.get(reputationKey(provider, workloadOf(stage))) ?? emptyReputation;
}

/** Adds one outcome to the provider's record for the stage's workload class. */
export function recordReputation(
  ctx: ApplyContext,
  provider: PublicKeyHex,
  stage: Stage,
  outcome: ReputationOutcome,
): void {
  const k = reputationKey(provider, workloadOf(stage));
  ctx.state.reputation.set(k, recordOutcome(ctx.state.reputation.get(k) ?? emptyReputation, outcome));
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

/** Nodes that may check `stage`: staked, not a party to it, not skipped, barred or owed a share of it. */
function eligible(state: State, stage: Stage, check: Check, parties: readonly PublicKeyHex[]): string[] {
  const out: string[] = [];
  for (const node of state.nodes.values()) {
    if (balanceOf(state, staked(node.id)) < state.params.minProviderStake) continue;
    if (parties.includes(node.id) || check.skipped.includes(node.id)) continue;
    if (state.ejected.has(node.id)) continue;
    if (stage.barred?.includes(node.id)) continue;
    // A provider that vanished from the stage is paid for its prefix if the result is accepted.
    if (stage.handoffs?.some((h) => h.provider === node.id)) continue;
    // A restricted stage's states are sealed: only a node that may hold its key can check them
    // (routing/keys.ts), so nobody outside its jurisdictions is drawn to read them.
    if (isRestricted(stage) && !mayHoldStageKey(state, stage, node.id)) continue;
    out.push(node.id);
  }
  return out;
}

/**
 * Draws one node to act on `stage` from the beacon of this event, among the eligible nodes that are
 * not `parties`; undefined when nobody is left.
 */
function drawNode(
  ctx: ApplyContext,
  key: string,
  stage: Stage,
  check: Check,
  role: "verifier" | "referee",
  parties: readonly PublicKeyHex[],
): PublicKeyHex | undefined {
  const candidates = eligible(ctx.state, stage, check, parties);
  if (candidates.length === 0) return undefined;
  const seed = beacon(ctx.prev, `${role}/${key}/${check.skipped.length}`);
  return selectVerifiers(seed, candidates, stage.provider!, 1)[0] as PublicKeyHex;
}

function assignVerifier(ctx: ApplyContext, job: Job, key: string, stage: Stage, check: Check): void {
  const verifier = drawNode(ctx, key, stage, check, "verifier", [stage.provider!]);
  if (verifier === undefined) {
    finish(ctx, job, key, stage, "no-verifier");
    return;
  }
  check.verifier = verifier;
  check.phase = "verifying";
  delete check.commitment;
  stage.deadline = ctx.time + ctx.state.params.verdictWindowMs;
  ctx.effects.push({ type: "verify", jobId: job.id, stage: stage.spec.name, verifier });
}

function assignReferee(ctx: ApplyContext, job: Job, key: string, stage: Stage, check: Check): void {
  // A canary dispute's sides are the same two nodes: the approving verifier and the provider.
  const referee = drawNode(ctx, key, stage, check, "referee", [stage.provider!, check.verifier!]);
  if (referee === undefined) {
    // Nobody left to execute the step: no fault is proven, so nobody is slashed; run it again.
    finish(ctx, job, key, stage, "no-referee");
    return;
  }
  check.referee = referee;
  check.phase = "refereeing";
  stage.deadline = ctx.time + ctx.state.params.disputeRoundMs;
  ctx.effects.push({ type: "referee", jobId: job.id, stage: stage.spec.name, referee });
}

function findCheck(state: State, body: { jobId: string; stage: string }) {
  const job = state.jobs.get(body.jobId as Job["id"]);
  if (job === undefined) throw new SwitchyardError("UNKNOWN_JOB", `no job ${body.jobId}`);
  const stage = job.stages.get(body.stage);
  if (stage === undefined) throw new SwitchyardError("UNKNOWN_STAGE", `job has no stage ${body.stage}`);
  const check = stage.check;
  if (stage.status !== "committed" || check === undefined) {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `stage ${body.stage} has no verification in progress`);
  }
  return { job, stage, check, key: stageKey(job.id, stage.spec.name) };
}

function requirePhase(check: Check, phase: Check["phase"], action: string): void {
  if (check.phase !== phase) {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `cannot ${action}: the verification is ${check.phase}`, {
      details: { phase: check.phase },
    });
  }
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

/** Both disputed checkpoints of the checked segment, proven against the committed root. */
function provesSegment(
  stage: Stage,
  check: Check,
  agreed: { hash: string; proof: string[] } | undefined,
  claimed: { hash: string; proof: string[] } | undefined,
): boolean {
  const segment = check.segment!;
  const leaves = segmentsOf(stage) + 2; // checkpoints 0…m, then the output hash
  return (
    agreed !== undefined &&
    claimed !== undefined &&
    verifyMerkleProof(stage.root!, agreed.hash as Hex32, segment, agreed.proof as Hex32[], leaves) &&
    verifyMerkleProof(stage.root!, claimed.hash as Hex32, segment + 1, claimed.proof as Hex32[], leaves)
  );
}

/** The bisection over the checked segment's steps (pure: throws before anything is written). */
function segmentDispute(
  ctx: ApplyContext,
  check: Check,
  agreed: string,
  provider: string,
  challenger: string,
) {
  return openDispute({
    checkpointSteps: [check.fromStep!, check.toStep!],
    agreedIndex: 0,
    agreedHash: agreed as Hex32,
    disputedIndex: 1,
    claims: { provider: provider as Hex32, challenger: challenger as Hex32 },
    time: ctx.time,
    roundTimeoutMs: ctx.state.params.disputeRoundMs,
  });
}

/** Starts `dispute`: asks the first round, or the referee if one step is already left. */
function startDispute(
  ctx: ApplyContext,
  job: Job,
  key: string,
  stage: Stage,
  check: Check,
  dispute: DisputeState,
) {
  check.dispute = dispute;
  ctx.journal.jobs.add(job.id);
  if (dispute.phase === "referee") {
    assignReferee(ctx, job, key, stage, check);
    return;
  }
  check.phase = "disputing";
  stage.deadline = dispute.deadline;
  ctx.effects.push({ type: "disputeRound", jobId: job.id, stage: stage.spec.name, step: queryStep(check) });
}

/** Who answers for each side of a dispute: provider and verifier, or, for a canary, the approver and the canary's provider. */
export function disputeSides(stage: Stage, check: Check): Record<DisputeParty, PublicKeyHex | undefined> {
  if (check.canary !== undefined)
    return { provider: check.canary.defender, challenger: check.canary.challenger };
  return { provider: stage.provider, challenger: check.verifier };
}

function disputePartyOf(stage: Stage, check: Check, who: PublicKeyHex): DisputeParty | undefined {
  const sides = disputeSides(stage, check);
  return who === sides.provider ? "provider" : who === sides.challenger ? "challenger" : undefined;
}

function queryStep(check: Check): number {
  const q = disputeQuery(check.dispute!);
  if (q.kind !== "step") throw new SwitchyardError("INVARIANT_VIOLATED", `dispute expects ${q.kind}`);
  return q.step;
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
        slashForDelay(ctx, job, silent, `did not reveal a verdict on ${stage.spec.name} in time`);
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
        slashForDelay(ctx, job, silent, `did not referee ${stage.spec.name} in time`);
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

/**
 * True when `who` could not read a sealed stage's states because the requester never released the
 * key to it: its silence is the requester's doing, so it is replaced without being slashed.
 */
function keyWithheld(job: Job, stage: Stage, who: PublicKeyHex): boolean {
  return job.sealed === true && isRestricted(stage) && !(stage.keys ?? []).some((k) => k.to === who);
}

function slashForDelay(ctx: ApplyContext, job: Job, who: PublicKeyHex, reason: string): void {
  const amount = bpsFloor(balanceOf(ctx.state, staked(who)), ctx.state.params.timeoutSlashBps);
  slash(ctx, who, amount, available(job.requester), reason);
}

/**
 * Slashes `fraudSlashBps` of `who`'s bonded and unbonding stake: first up to each payee's cap, the
 * rest to the requester. Returns the amount taken.
 */
function slashFault(
  ctx: ApplyContext,
  job: Job,
  who: PublicKeyHex,
  payees: ReadonlyArray<readonly [PublicKeyHex | undefined, bigint]>,
  reason: string,
): bigint {
  const { state } = ctx;
  const base = balanceOf(state, staked(who)) + balanceOf(state, unbondingAccount(who));
  let left = bpsFloor(base, state.params.fraudSlashBps);
  let taken = 0n;
  for (const [payee, cap] of payees) {
    if (payee === undefined) continue;
    const amount = left < cap ? left : cap;
    if (amount > 0n) taken += slash(ctx, who, amount, available(payee), reason);
    left -= amount;
  }
  if (left > 0n) taken += slash(ctx, who, left, available(job.requester), reason);
  return taken;
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
 * Ends the current check with `outcome`: records it, then settles the stage (verified, unchecked,
 * no verifier, verifier wrong) or sends it back to be placed again without paying its provider
 * (a fault proven against the provider, or no referee to decide).
 */
function finish(
  ctx: ApplyContext,
  job: Job,
  key: string,
  stage: Stage,
  outcome: CheckOutcome,
  options: { readonly keepWindow?: boolean; readonly slashed?: CheckRecord["slashed"] } = {},
): void {
  const check = stage.check!;
  const provider = stage.provider!;
  const record: CheckRecord = {
    provider,
    checked: check.verifier !== undefined || check.skipped.length > 0,
    ratePpm: check.ratePpm ?? 0,
    ...(check.segment === undefined ? {} : { segment: check.segment }),
    ...(check.verifier === undefined ? {} : { verifier: check.verifier }),
    ...(check.referee === undefined ? {} : { referee: check.referee }),
    ...(check.dispute === undefined ? {} : { rounds: check.dispute.rounds }),
    fee: check.fee ?? 0n,
    outcome,
    slashed: options.slashed ?? [],
    at: ctx.time,
  };
  stage.checks = [...(stage.checks ?? []), record];
  delete stage.check;
  ctx.state.awaitingBeacon.delete(key);
  ctx.journal.jobs.add(job.id);
  ctx.effects.push({ type: "verification", jobId: job.id, stage: stage.spec.name, outcome, provider });
  switch (outcome) {
    case "unchecked":
    case "no-verifier":
    case "waived":
      if (!options.keepWindow) acceptAndContinue(ctx, job, stage);
      return;
    case "verified":
      post(ctx.state, ctx.journal, escrow(job.id), available(check.verifier!), check.fee ?? 0n);
      recordReputation(ctx, provider, stage, "success");
      acceptAndContinue(ctx, job, stage);
      return;
    case "verifier-wrong":
    case "verifier-silent":
      recordReputation(ctx, provider, stage, "success");
      acceptAndContinue(ctx, job, stage);
      return;
    case "fraud-proven":
    case "provider-silent":
    case "both-wrong":
    case "both-silent":
      recordReputation(ctx, provider, stage, "failure");
      stage.barred = [...(stage.barred ?? []), provider];
      rerun(ctx, job, key, stage, `${outcome}: result of ${provider.slice(0, 8)}… rejected`);
      return;
    case "no-referee":
      rerun(ctx, job, key, stage, "no referee could decide the dispute");
      return;
    case "canary-passed":
      // The verifier did its work; the canary is not a result anyone uses: nobody is paid for it.
      post(ctx.state, ctx.journal, escrow(job.id), available(check.verifier!), check.fee ?? 0n);
      endCanary(ctx, job, stage, "canary: the verifier found the planted fault");
      return;
    case "canary-caught":
      endCanary(ctx, job, stage, "canary: the verifier approved a planted fault and was ejected");
      return;
    case "canary-false":
      recordReputation(ctx, provider, stage, "success");
      acceptAndContinue(ctx, job, stage);
      return;
    case "replica-agreed":
    case "replica-dissent":
    case "no-quorum":
      throw new SwitchyardError("INVARIANT_VIOLATED", `${outcome} is decided by replication.ts, not here`);
    default: {
      const never: never = outcome;
      throw new SwitchyardError("INVARIANT_VIOLATED", `unknown verification outcome ${String(never)}`);
    }
  }
}

/** A canary stage ends failed (no re-run, its provider unpaid) and its dependents with it. */
function endCanary(ctx: ApplyContext, job: Job, stage: Stage, reason: string): void {
  releasePlacement(ctx, stage);
  failStage(ctx, job, stage, reason);
  finishJobIfDone(ctx, job);
}

/** The result is not paid; the stage goes back to be placed on another provider (or fails). */
function rerun(ctx: ApplyContext, job: Job, key: string, stage: Stage, reason: string): void {
  const from = stage.provider!;
  releasePlacement(ctx, stage);
  delete stage.provider;
  delete stage.offerId;
  delete stage.price;
  delete stage.deadline;
  delete stage.root;
  delete stage.output;
  delete stage.steps;
  delete stage.checkpointEvery;
  delete stage.manifest;
  if (stage.attempts >= ctx.state.params.maxAttempts) {
    failStage(
      ctx,
      job,
      stage,
      `${reason}; no provider delivered a verified result in ${stage.attempts} attempts`,
    );
    finishJobIfDone(ctx, job);
    return;
  }
  transition(ctx, key, stage, "pending");
  ctx.effects.push({ type: "stageReassigned", jobId: job.id, stage: stage.spec.name, from });
  placePending(ctx);
}

/** The canary authority commits to a canary stage it will plant (docs/verification.md §9). */
export function applyCanaryCommit(ctx: MessageContext, body: MessageBody<"canaryCommit">): void {
  const authority = ctx.state.params.canaryAuthority;
  if (authority === undefined || ctx.signer !== authority) {
    throw new SwitchyardError("NOT_AUTHORIZED", "only the network's canary authority commits canaries");
  }
  if (ctx.state.canaryCommitments.has(body.commitment as Hex32)) {
    throw new SwitchyardError("ILLEGAL_TRANSITION", "this canary commitment was already posted");
  }
  ctx.state.canaryCommitments.set(body.commitment as Hex32, ctx.seq);
}

/** H(jobId ‖ stage ‖ salt): what the canary authority commits to before planting a canary. */
export function canaryCommitment(jobId: string, stage: string, salt: string): Hex32 {
  return hashCanonical("canary-stage", { jobId, stage, salt });
}

/**
 * The canary's provider reveals it. After a mismatch (the verifier computed): the canary ends,
 * the verifier is paid its fee, nobody is slashed. After an approval: a dispute in which the
 * approving verifier defends the committed claim against the canary's true hash; the referee's
 * single step decides, and a verifier proven to have approved a wrong result is slashed and ejected.
 */
export function applyRevealCanary(ctx: MessageContext, body: MessageBody<"revealCanary">): void {
  const { job, stage, check, key } = findCheck(ctx.state, body);
  if (stage.provider !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", "only the canary's provider reveals it");
  const commitment = canaryCommitment(job.id, stage.spec.name, body.salt);
  const postedAt = ctx.state.canaryCommitments.get(commitment);
  // Only a canary committed before the result was: otherwise a caught cheater could call its
  // stage a canary after the fact.
  if (postedAt === undefined || postedAt >= check.commitSeq) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      "no canary commitment posted before this result matches the stage and salt",
    );
  }
  if (check.canary !== undefined)
    throw new SwitchyardError("ILLEGAL_TRANSITION", "the canary is already revealed");
  if (check.phase === "disputing" || check.phase === "refereeing") {
    ctx.state.canaryCommitments.delete(commitment);
    finish(ctx, job, key, stage, "canary-passed");
    return;
  }
  if (check.phase !== "approved") {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `reveal a canary after the verdict, not while ${check.phase}`,
    );
  }
  const { agreed, claimed, trueHash } = body;
  if (
    trueHash === undefined ||
    claimed === undefined ||
    claimed.hash !== check.computed ||
    trueHash === claimed.hash ||
    !provesSegment(stage, check, agreed, claimed)
  ) {
    throw new SwitchyardError(
      "MALFORMED",
      "a canary the verifier approved must give the true hash and prove the approved checkpoints",
    );
  }
  const dispute = segmentDispute(ctx, check, agreed!.hash, claimed.hash, trueHash);
  ctx.state.canaryCommitments.delete(commitment);
  check.canary = { defender: check.verifier!, challenger: ctx.signer };
  startDispute(ctx, job, key, stage, check, dispute);
}

function resolveCanaryDispute(
  ctx: ApplyContext,
  job: Job,
  key: string,
  stage: Stage,
  check: Check,
  outcome: DisputeOutcome,
): void {
  const { defender, challenger } = check.canary!;
  const fee = check.fee ?? 0n;
  const slashed: Array<{ who: PublicKeyHex; amount: bigint }> = [];
  const defenderLost = outcome.losers.includes("provider");
  const challengerLost = outcome.losers.includes("challenger");
  if (defenderLost) {
    const why = `approved the canary ${stage.spec.name} without computing it`;
    slashed.push({ who: defender, amount: slashFault(ctx, job, defender, [[check.referee, fee]], why) });
    ctx.state.ejected.set(defender, ctx.time);
    ctx.effects.push({ type: "slashed", who: defender, amount: 0n, reason: "ejected from verification" });
  }
  if (challengerLost) {
    const why = `claimed ${stage.spec.name} was a wrong canary, and it was not`;
    slashed.push({ who: challenger, amount: slashFault(ctx, job, challenger, [[check.referee, fee]], why) });
  }
  finish(ctx, job, key, stage, defenderLost ? "canary-caught" : "canary-false", { slashed });
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
