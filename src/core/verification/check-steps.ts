/**
 * The steps every live check is built from (verification/live.ts, canaries-live.ts): who may be
 * drawn to check or referee, finding a check and its phase, proving the disputed checkpoints,
 * starting a bisection, slashing a proven fault, and ending a check with its outcome — settling the
 * stage, or placing it again without paying its provider.
 */
import { checkpointSteps } from "../../protocol/checkpoints.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Hex32, PublicKeyHex } from "../../protocol/ids.ts";
import { verifyMerkleProof } from "../../protocol/merkle.ts";
import type { ApplyContext } from "../context.ts";
import { transition } from "../jobs/lifecycle.ts";
import { forgetMatch, placePending, releasePlacement } from "../jobs/placement.ts";
import { acceptAndContinue, failStage, finishJobIfDone } from "../jobs/settle.ts";
import { available, escrow, staked, unbondingAccount } from "../ledger/accounts.ts";
import { slash } from "../ledger/handlers.ts";
import { balanceOf, bpsFloor, post } from "../ledger/ledger.ts";
import {
  emptyReputation,
  type ReputationOutcome,
  recordOutcome,
  reputationKey,
} from "../reputation/reputation.ts";
import { isRestricted, mayHoldStageKey, missingKeys } from "../routing/keys.ts";
import type { Check, CheckOutcome, CheckRecord, Job, Stage, State } from "../state.ts";
import { stageKey } from "../state.ts";
import { beacon } from "./beacon.ts";
import { selectVerifiers } from "./committee.ts";
import { type DisputeParty, type DisputeState, disputeQuery, openDispute } from "./dispute.ts";

/** The number of segments of a committed result (0 when it has no steps or no layout). */
export function segmentsOf(stage: Stage): number {
  if (stage.steps === undefined || stage.checkpointEvery === undefined || stage.steps === 0) return 0;
  return checkpointSteps(stage.steps, stage.checkpointEvery).length - 1;
}

const workloadOf = (stage: Stage): string => stage.spec.program;

export function reputationOf(state: State, provider: PublicKeyHex, stage: Stage) {
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

/** Nodes that may check `stage`: staked, not a party to it, not skipped, barred or owed a share of it. */
export function eligible(
  state: State,
  stage: Stage,
  check: Check,
  parties: readonly PublicKeyHex[],
): string[] {
  const out: string[] = [];
  for (const node of state.nodes.values()) {
    if (balanceOf(state, staked(node.id)) < state.params.minProviderStake) continue;
    if (parties.includes(node.id) || check.skipped.includes(node.id)) continue;
    if (state.ejected.has(node.id)) continue;
    if (stage.barred?.includes(node.id)) continue;
    // A provider that vanished from the stage is paid for its prefix if the result is accepted.
    if (stage.handoffs?.some((h) => h.provider === node.id)) continue;
    // A relay carries ciphertext and never holds a key (routing/key-release.ts): it cannot open a
    // sealed job's inputs or states, so it is never drawn to check them.
    if (node.resourceClass === "relay") continue;
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

export function assignVerifier(ctx: ApplyContext, job: Job, key: string, stage: Stage, check: Check): void {
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

export function assignReferee(ctx: ApplyContext, job: Job, key: string, stage: Stage, check: Check): void {
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

export function findCheck(state: State, body: { jobId: string; stage: string }) {
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

export function requirePhase(check: Check, phase: Check["phase"], action: string): void {
  if (check.phase !== phase) {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `cannot ${action}: the verification is ${check.phase}`, {
      details: { phase: check.phase },
    });
  }
}

/** Both disputed checkpoints of the checked segment, proven against the committed root. */
export function provesSegment(
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
export function segmentDispute(
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
export function startDispute(
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

export function disputePartyOf(stage: Stage, check: Check, who: PublicKeyHex): DisputeParty | undefined {
  const sides = disputeSides(stage, check);
  return who === sides.provider ? "provider" : who === sides.challenger ? "challenger" : undefined;
}

export function queryStep(check: Check): number {
  const q = disputeQuery(check.dispute!);
  if (q.kind !== "step") throw new SwitchyardError("INVARIANT_VIOLATED", `dispute expects ${q.kind}`);
  return q.step;
}

/**
 * True when `who` could not read a sealed stage's states or inputs because the requester never
 * released a key it needs (routing/keys.ts `missingKeys`): its silence is the requester's doing, so
 * it is replaced without being slashed.
 */
export function keyWithheld(job: Job, stage: Stage, who: PublicKeyHex): boolean {
  return missingKeys(job, stage, who, false).length > 0;
}

/**
 * Slashes `fraudSlashBps` of `who`'s bonded and unbonding stake: first up to each payee's cap, the
 * rest to the requester. Returns the amount taken.
 */
export function slashFault(
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

/**
 * Ends the current check with `outcome`: records it, then settles the stage (verified, unchecked,
 * no verifier, verifier wrong) or sends it back to be placed again without paying its provider
 * (a fault proven against the provider, or no referee to decide).
 */
export function finish(
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
  forgetMatch(stage);
  delete stage.root;
  delete stage.output;
  delete stage.outputBytes;
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
