/**
 * Key release through the log (docs/routing.md "Key release in the live network"). A stage with
 * `jurisdictions` is *restricted*: in a job submitted `sealed`, its provider seals its checkpoint
 * states under the stage key, and only nodes inside those jurisdictions may be handed that key. The requester (who holds the job key)
 * posts one `releaseKey` per recipient, carrying the stage key sealed to that node; the core accepts
 * it only from the job's requester and only for a node the key-release rule (key-release.ts) allows,
 * so the log itself proves that no key went outside the stage's jurisdictions or to a relay. The
 * core stores the sealed bytes and never sees a key.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { PublicKeyHex } from "../../protocol/ids.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { MessageContext } from "../context.ts";
import { findStage } from "../jobs/handlers.ts";
import type { Job, Stage, State } from "../state.ts";
import { keyReleaseDecision } from "./key-release.ts";

/** A stage key sealed to one node, as released through the log. */
export interface ReleasedKey {
  readonly to: PublicKeyHex;
  /** 80 bytes, hex (protocol/key-wrap.node.ts). */
  readonly sealed: string;
}

/**
 * True when the stage's data may stay only inside some jurisdictions: its verifiers and referees
 * must be inside them, and in a `sealed` job its states are sealed.
 */
export function isRestricted(stage: Stage): boolean {
  return (stage.spec.jurisdictions?.length ?? 0) > 0;
}

/**
 * Whether `node` may receive the key of `stage` (a reader of its data: its provider, a verifier,
 * a referee). Unregistered nodes may not.
 */
export function mayHoldStageKey(state: State, stage: Stage, node: string): boolean {
  const record = state.nodes.get(node as PublicKeyHex);
  return record !== undefined && keyReleaseDecision(stage.spec.jurisdictions, record, "reader").release;
}

/**
 * The keys `who` lacks to work on `stage` of a sealed job (a provider before it starts; a verifier
 * or referee while its check runs): the stage key of a restricted stage, the stage's own output key
 * (`asProvider`: it seals the output under it), and the output key of every stage it runs after (it
 * opens its inputs with them). Empty for a job not sealed. A delay for want of any of them is the
 * requester's (jobs/deadlines.ts, verification/check-steps.ts).
 *
 * @example missingKeys(job, stage, stage.provider!, true) // [] once every key was released
 */
export function missingKeys(job: Job, stage: Stage, who: PublicKeyHex, asProvider: boolean): string[] {
  if (job.sealed !== true) return [];
  const missing: string[] = [];
  const holds = (keys: readonly ReleasedKey[] | undefined) => (keys ?? []).some((k) => k.to === who);
  if (isRestricted(stage) && !holds(stage.keys)) missing.push(stage.spec.name);
  // Replicas (`train~2`) seal under their spec's output key, released on the spec's stage.
  const spec = job.stages.get(stage.spec.name.replace(/~[2-9]$/, "")) ?? stage;
  if (asProvider && !holds(spec.outputKeys)) missing.push(`${spec.spec.name}#output`);
  for (const dep of stage.spec.after) {
    if (!holds(job.stages.get(dep)?.outputKeys)) missing.push(`${dep}#output`);
  }
  return missing;
}

/**
 * `releaseKey`: record the stage key sealed to `to`.
 *
 * @throws SwitchyardError NOT_AUTHORIZED when the signer is not the job's requester, or the rule
 *   refuses the recipient (outside the jurisdictions, or a relay); UNKNOWN_NODE for an unregistered
 *   recipient; ILLEGAL_TRANSITION for an unrestricted stage, a finished job or a second release to
 *   the same node. Nothing changes on any of them.
 */
export function applyReleaseKey(ctx: MessageContext, body: MessageBody<"releaseKey">): void {
  const { job, stage } = findStage(ctx.state, body.jobId, body.stage);
  if (job.requester !== ctx.signer) {
    throw new SwitchyardError("NOT_AUTHORIZED", "only the job's requester releases its stage keys");
  }
  if (body.purpose === "output") {
    releaseOutputKey(ctx, job, stage, body);
    return;
  }
  if (job.sealed !== true || !isRestricted(stage)) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      job.sealed !== true
        ? `job ${job.id.slice(0, 12)}… was not submitted sealed: its states are not sealed, so there is no key to release`
        : `stage ${stage.spec.name} has no jurisdictions: its data is not sealed, so there is no key to release`,
    );
  }
  if (job.status === "finished") {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `job ${job.id.slice(0, 12)}… is finished`);
  }
  const node = ctx.state.nodes.get(body.to);
  if (node === undefined) throw new SwitchyardError("UNKNOWN_NODE", `no node ${body.to.slice(0, 12)}…`);
  const decision = keyReleaseDecision(stage.spec.jurisdictions, node, "reader");
  if (!decision.release) {
    throw new SwitchyardError(
      "NOT_AUTHORIZED",
      `the key of stage ${stage.spec.name} may not go to ${node.name}: ${decision.reason} (allowed: ${stage.spec.jurisdictions!.join(", ")})`,
      { details: { stage: stage.spec.name, to: body.to, reason: decision.reason } },
    );
  }
  if (stage.keys?.some((k) => k.to === body.to)) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `the key of stage ${stage.spec.name} was already released to ${node.name}`,
    );
  }
  stage.keys = [...(stage.keys ?? []), { to: body.to, sealed: body.sealed }];
  ctx.journal.jobs.add(job.id);
}

/**
 * An output key (`purpose: "output"`): in a sealed job every stage's output is sealed under its
 * output key before it is served, so a relay carrying it sees ciphertext. The requester piped the
 * output to the stages that read it, which may run anywhere their own jurisdictions allow, so the
 * rule is the reader rule without jurisdictions: any registered node except a relay. The stage's
 * checkpoint states stay under the stage key and its jurisdictions.
 *
 * @throws SwitchyardError as {@link applyReleaseKey}; ILLEGAL_TRANSITION also for a job not sealed.
 */
function releaseOutputKey(
  ctx: MessageContext,
  job: Job,
  stage: Stage,
  body: MessageBody<"releaseKey">,
): void {
  if (job.sealed !== true) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `job ${job.id.slice(0, 12)}… was not submitted sealed: its outputs are not sealed, so there is no output key to release`,
    );
  }
  if (job.status === "finished") {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `job ${job.id.slice(0, 12)}… is finished`);
  }
  const node = ctx.state.nodes.get(body.to);
  if (node === undefined) throw new SwitchyardError("UNKNOWN_NODE", `no node ${body.to.slice(0, 12)}…`);
  const decision = keyReleaseDecision(undefined, node, "reader");
  if (!decision.release) {
    throw new SwitchyardError(
      "NOT_AUTHORIZED",
      `the output key of stage ${stage.spec.name} may not go to ${node.name}: ${decision.reason}`,
      { details: { stage: stage.spec.name, to: body.to, reason: decision.reason } },
    );
  }
  if (stage.outputKeys?.some((k) => k.to === body.to)) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `the output key of stage ${stage.spec.name} was already released to ${node.name}`,
    );
  }
  stage.outputKeys = [...(stage.outputKeys ?? []), { to: body.to, sealed: body.sealed }];
  ctx.journal.jobs.add(job.id);
}
