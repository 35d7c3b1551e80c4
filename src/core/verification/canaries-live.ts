import { SwitchyardError } from "../../protocol/errors.ts";
import { hashCanonical } from "../../protocol/hash.ts";
import type { Hex32, PublicKeyHex } from "../../protocol/ids.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { ApplyContext, MessageContext } from "../context.ts";
import type { Check, Job, Stage } from "../state.ts";
import { findCheck, finish, provesSegment, segmentDispute, slashFault, startDispute } from "./check-steps.ts";
import type { DisputeOutcome } from "./dispute.ts";

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

export function resolveCanaryDispute(
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
