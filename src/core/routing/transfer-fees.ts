/**
 * Transfer fees in the ledger (docs/routing.md "Transfer fees in the ledger"). Moving a stage's
 * output to the stage that reads it costs bandwidth: the producer's egress, priced by its offer
 * (`postOffer.pricePerGigabyte`, fixed on the stage at the match), and, when the data went through a
 * relay, the relay's forwarding price. Nobody is paid on the sender's word: the *receiver* signs
 * `acknowledgeTransfer` for the bytes that arrived, the core checks the claim against what the log
 * already knows (the producer's committed output and its declared size), and pays both fees from the
 * job's escrow, within the transfer budget the requester set aside at submission. What is not spent
 * is refunded with the rest of the escrow when the job finishes (jobs/settle.ts).
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Cid, PublicKeyHex } from "../../protocol/ids.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { MessageContext } from "../context.ts";
import { findStage } from "../jobs/handlers.ts";
import { terminalStatuses } from "../jobs/lifecycle.ts";
import { available, escrow } from "../ledger/accounts.ts";
import { balanceOf, post } from "../ledger/ledger.ts";
import type { Job, Stage, State } from "../state.ts";
import { groupMembers } from "../verification/replication-group.ts";
import { bandwidthFee } from "./relay-path.ts";

/** One acknowledged transfer of an input to a stage, and what it paid. */
export interface TransferRecord {
  /** The content id that arrived: the committed output of `from`. */
  readonly input: Cid;
  readonly bytes: number;
  /** The stage that produced it, and its provider, who was paid the egress fee. */
  readonly from: string;
  readonly producer: PublicKeyHex;
  /** The relay it came through, paid the relay fee; absent for a direct transfer. */
  readonly via?: PublicKeyHex;
  readonly egressFee: bigint;
  readonly relayFee: bigint;
  /** The receiving provider that acknowledged it. */
  readonly by: PublicKeyHex;
  readonly at: number;
}

/**
 * The two fees of moving `bytes`: the producer's egress and the relay's forwarding, each
 * `bandwidthFee` (prices per 10^9 bytes, rounded up, so a fee never falls short of its price).
 *
 * @example
 * transferFees(3_200_000, 1_000n, 20_000n) // { egressFee: 4n, relayFee: 64n }
 */
export function transferFees(
  bytes: number,
  egressPricePerGigabyte: bigint,
  relayPricePerGigabyte: bigint,
): { readonly egressFee: bigint; readonly relayFee: bigint } {
  return {
    egressFee: bandwidthFee(bytes, egressPricePerGigabyte),
    relayFee: bandwidthFee(bytes, relayPricePerGigabyte),
  };
}

/**
 * A relay's forwarding price: the lowest `pricePerGigabyte` (absent: 0) among its active offers of
 * class `relay`, or undefined when it has none standing. The lowest, because a relay that stands
 * in the book at several prices has offered every one of them.
 *
 * @example
 * relayPriceOf(state, relayKey) // 20_000n
 */
export function relayPriceOf(state: State, relay: PublicKeyHex): bigint | undefined {
  let price: bigint | undefined;
  for (const offer of state.offers.values()) {
    if (offer.provider !== relay || !offer.active || offer.resourceClass !== "relay") continue;
    const asked = offer.pricePerGigabyte ?? 0n;
    if (price === undefined || asked < price) price = asked;
  }
  return price;
}

/**
 * The stage whose committed output `input` is, among the stages `stage` runs after: the named stage
 * or, for a replicated one, the first member of its group (primary first) that committed the output
 * the group agreed on — the output dependents read.
 */
function producerOf(job: Job, stage: Stage, input: Cid): { name: string; stage: Stage } | undefined {
  for (const name of stage.spec.after) {
    const dep = job.stages.get(name);
    if (dep === undefined) continue;
    const handedOn = dep.replication?.output ?? dep.output;
    if (handedOn !== (input as string)) continue;
    const members = dep.replication === undefined ? [name] : groupMembers(name, dep.replication.k);
    for (const member of members) {
      const candidate = job.stages.get(member);
      if (candidate?.output === handedOn && candidate.provider !== undefined)
        return { name: member, stage: candidate };
    }
  }
  return undefined;
}

/** Escrow a job must keep for its stages that may still be paid: the reserves of the open ones. */
function openReserves(job: Job): bigint {
  let open = 0n;
  for (const s of job.stages.values()) if (!terminalStatuses.has(s.status)) open += s.reserve;
  return open;
}

/** The relay's price, after checking that `via` may be paid for forwarding to the signer. */
function checkRelay(state: State, via: PublicKeyHex, signer: PublicKeyHex, producer: PublicKeyHex): bigint {
  if (via === signer || via === producer) {
    throw new SwitchyardError(
      "MALFORMED",
      `the relay must be a third node: ${via === signer ? "the receiver" : "the producer"} cannot relay to itself`,
    );
  }
  const node = state.nodes.get(via);
  if (node === undefined)
    throw new SwitchyardError("UNKNOWN_NODE", `no node ${via.slice(0, 12)}… is registered`);
  if (node.resourceClass !== "relay") {
    throw new SwitchyardError(
      "NOT_AUTHORIZED",
      `${node.name} registered resource class ${node.resourceClass}, not relay: only relays are paid for forwarding`,
    );
  }
  const price = relayPriceOf(state, via);
  if (price === undefined) {
    throw new SwitchyardError(
      "UNKNOWN_OFFER",
      `relay ${node.name} has no active relay offer: it set no price`,
    );
  }
  return price;
}

/**
 * `acknowledgeTransfer`: the provider of `stage` received `bytes` of `input` (a dependency's output)
 * directly or through relay `via`; pay the producer's egress fee and the relay's fee from escrow.
 *
 * @throws SwitchyardError — nothing changes on any of them:
 *   UNKNOWN_JOB / UNKNOWN_STAGE; ILLEGAL_TRANSITION when the job is finished, the producer declared
 *   no output size, or this signer already acknowledged this input for this stage; NOT_AUTHORIZED
 *   when the signer is not the stage's provider, or `via` is not a relay; MALFORMED when `input` is
 *   not the output of a stage this one runs after (requester-supplied inputs are not paid for), when
 *   `bytes` exceeds the declared size, or when `via` is the receiver or the producer; UNKNOWN_NODE /
 *   UNKNOWN_OFFER for a relay that is not registered or has no active relay offer;
 *   INSUFFICIENT_FUNDS when the fees would exceed the job's transfer budget.
 * @example
 * // signed by the provider of "train", which runs after "prep":
 * { type: "acknowledgeTransfer", body: { jobId, stage: "train", input: prepOutput, bytes: 3_200_000, via: relayKey } }
 */
export function applyAcknowledgeTransfer(
  ctx: MessageContext,
  body: MessageBody<"acknowledgeTransfer">,
): void {
  const { state, signer } = ctx;
  const { job, stage } = findStage(state, body.jobId, body.stage);
  if (job.status !== "open") {
    throw new SwitchyardError("ILLEGAL_TRANSITION", `job ${job.id.slice(0, 12)}… is finished`);
  }
  if (stage.provider !== signer) {
    throw new SwitchyardError(
      "NOT_AUTHORIZED",
      `only the provider of stage ${stage.spec.name} acknowledges what it received`,
    );
  }
  const produced = producerOf(job, stage, body.input);
  if (produced === undefined) {
    throw new SwitchyardError(
      "MALFORMED",
      stage.spec.inputs.includes(body.input)
        ? `${body.input.slice(0, 12)}… is an input the requester supplied to ${stage.spec.name}: its transfer is not paid for`
        : `${body.input.slice(0, 12)}… is not the output of a stage ${stage.spec.name} runs after`,
      { details: { stage: stage.spec.name, input: body.input } },
    );
  }
  const producer = produced.stage.provider!;
  if (producer === signer) {
    throw new SwitchyardError(
      "MALFORMED",
      `this provider produced ${body.input.slice(0, 12)}… itself: nothing moved between nodes, so nothing is paid`,
    );
  }
  const declared = produced.stage.outputBytes;
  if (declared === undefined) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `the provider of ${produced.name} did not declare the size of its output: nothing can check a fee for it`,
    );
  }
  if (body.bytes > declared) {
    throw new SwitchyardError(
      "MALFORMED",
      `${body.bytes} bytes acknowledged, but the output of ${produced.name} is ${declared} bytes`,
      { details: { bytes: body.bytes, outputBytes: declared } },
    );
  }
  if (stage.transfers?.some((t) => t.input === body.input && t.by === signer)) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `this provider already acknowledged ${body.input.slice(0, 12)}… for stage ${stage.spec.name}`,
    );
  }
  const relayPrice = body.via === undefined ? 0n : checkRelay(state, body.via, signer, producer);
  const { egressFee, relayFee } = transferFees(
    body.bytes,
    produced.stage.egressPricePerGigabyte ?? 0n,
    relayPrice,
  );
  const fees = egressFee + relayFee;
  const paid = job.transferPaid ?? 0n;
  const budget = job.transferBudget ?? 0n;
  if (paid + fees > budget) {
    throw new SwitchyardError(
      "INSUFFICIENT_FUNDS",
      `transfer fees of ${fees} (egress ${egressFee}, relay ${relayFee}) would exceed the job's transfer budget: ${paid} of ${budget} already paid`,
      { details: { fees: fees.toString(), paid: paid.toString(), budget: budget.toString() } },
    );
  }
  // The budget was locked on top of every stage's reserve, so this holds unless a stage spent more
  // than its reserve; checking it here turns that bug into a refusal rather than a halt.
  const held = balanceOf(state, escrow(job.id));
  if (held - fees < openReserves(job)) {
    throw new SwitchyardError(
      "INSUFFICIENT_FUNDS",
      `escrow of job ${job.id.slice(0, 12)}… holds ${held}: paying ${fees} would leave less than its open stages may cost`,
    );
  }
  post(state, ctx.journal, escrow(job.id), available(producer), egressFee);
  if (body.via !== undefined) post(state, ctx.journal, escrow(job.id), available(body.via), relayFee);
  job.transferPaid = paid + fees;
  const record: TransferRecord = {
    input: body.input,
    bytes: body.bytes,
    from: produced.name,
    producer,
    ...(body.via === undefined ? {} : { via: body.via }),
    egressFee,
    relayFee,
    by: signer,
    at: ctx.time,
  };
  stage.transfers = [...(stage.transfers ?? []), record];
  ctx.journal.jobs.add(job.id);
  ctx.effects.push({
    type: "transferSettled",
    jobId: job.id,
    stage: stage.spec.name,
    input: body.input,
    bytes: body.bytes,
    producer,
    egressFee,
    ...(body.via === undefined ? {} : { relay: body.via }),
    relayFee,
  });
}
