/**
 * The job view of the coordinator's API (api.ts): a job, its stages with where and why each was
 * placed, its progress, verification, keys and transfers. Amounts are decimal strings of
 * micro-credits; ids and hashes lowercase hex; times integer ms of sequencer time.
 */
import { z } from "zod";
import { hex32Schema } from "./ids.ts";
import { amountStringSchema as amount } from "./money.ts";

const hex = hex32Schema;

/**
 * Where a reported checkpoint sits in its run and what it holds: checkpoint `index` at `step` of
 * the layout (`steps`, `checkpointEvery`), its hash and its state's content id. Shared by the job
 * view's progress and the assignment's resume point (api.ts).
 */
export const checkpointPointFields = {
  index: z.number().int(),
  step: z.number().int(),
  steps: z.number().int(),
  checkpointEvery: z.number().int(),
  hash: hex,
  state: hex,
};

/** A reported checkpoint of a running stage (docs/routing.md, "Failover"); without the hash list. */
const progressViewSchema = z.strictObject({ provider: hex, ...checkpointPointFields, at: z.number().int() });

/** An effective cost term by term (core/routing/effective-cost.ts): what the matcher ranks by. */
export const costBreakdownSchema = z.strictObject({
  compute: z.number().int(),
  time: z.number().int(),
  delay: z.number().int(),
  risk: z.number().int(),
  verification: z.number().int(),
  total: z.number().int(),
});

export const stageViewSchema = z.strictObject({
  name: z.string(),
  program: z.string(),
  status: z.string(),
  resourceClass: z.string(),
  units: z.number().int(),
  seconds: z.number().int(),
  after: z.array(z.string()),
  provider: hex.optional(),
  pricePerUnitSecond: amount.optional(),
  attempts: z.number().int(),
  deadline: z.number().int().optional(),
  /**
   * Under a progress lease (`progressTimeoutMs`), a running stage's run deadline; `deadline` is then
   * the lease's end, which each progress report renews. What the provider computes until.
   */
  runDeadline: z.number().int().optional(),
  root: hex.optional(),
  output: hex.optional(),
  /** Size of the committed output, bytes, as its provider declared it. */
  outputBytes: z.number().int().optional(),
  steps: z.number().int().optional(),
  /** The committed result's manifest blob (checkpoint hashes and state ids), on its provider. */
  manifest: hex.optional(),
  paid: amount.optional(),
  fee: amount.optional(),
  failure: z.string().optional(),
  /** Why the stage went where it did: eligible offers, exclusions by reason, and the runner-up. */
  placement: z
    .strictObject({
      candidates: z.number().int(),
      eligible: z.number().int(),
      excluded: z.record(z.string(), z.number().int()),
      /** Offers not examined: by price alone they cost more than the runner-up (market/match.ts). */
      bounded: z.number().int().optional(),
      /** The chosen provider's failure probability from reputation (ppm): its risk premium. */
      failurePpm: z.number().int().optional(),
      /** The chosen provider's effective cost, term by term (micro-credits). */
      cost: costBreakdownSchema.optional(),
      runnerUp: z
        .strictObject({
          offerId: hex,
          provider: hex,
          price: amount,
          failurePpm: z.number().int().optional(),
          cost: costBreakdownSchema.optional(),
        })
        .optional(),
      /** True when the job's joint plan chose this offer; false when its planned offer was no longer eligible. */
      planned: z.boolean().optional(),
      /** The joint plan's total effective cost over the stages it placed, against the stage-by-stage total. */
      plan: z
        .strictObject({
          total: z.number().int(),
          greedyTotal: z.number().int().optional(),
          /** Proven optimal (branch and bound finished within its node limit). */
          exact: z.boolean(),
        })
        .optional(),
    })
    .optional(),
  latency: z.unknown().optional(),
  loop: z.unknown().optional(),
  verification: z.string().optional(),
  /** The verification in progress: its phase, rate, segment, verifier, referee and dispute. */
  check: z
    .strictObject({
      phase: z.string(),
      ratePpm: z.number().int().optional(),
      segment: z.number().int().optional(),
      verifier: hex.optional(),
      referee: hex.optional(),
      rounds: z.number().int().optional(),
    })
    .optional(),
  /** Finished verifications, oldest first: what was decided and who was slashed. */
  checks: z
    .array(
      z.strictObject({
        provider: hex,
        checked: z.boolean(),
        ratePpm: z.number().int(),
        segment: z.number().int().optional(),
        verifier: hex.optional(),
        referee: hex.optional(),
        rounds: z.number().int().optional(),
        fee: amount,
        outcome: z.string(),
        slashed: z.array(z.strictObject({ who: hex, amount })),
        at: z.number().int(),
      }),
    )
    .optional(),
  noMatch: z
    .strictObject({
      candidates: z.number().int(),
      excluded: z.record(z.string(), z.number().int()),
      sample: z.array(z.strictObject({ offerId: hex, reason: z.string() })),
    })
    .optional(),
  /** The running provider's last reported checkpoint. */
  progress: progressViewSchema.optional(),
  /** The checkpoint the stage resumes from after a provider vanished. */
  resumeFrom: progressViewSchema.optional(),
  /** Providers that vanished mid-stage: the steps they did and when their deadline caught them. */
  handoffs: z
    .array(
      z.strictObject({
        provider: hex,
        fromStep: z.number().int(),
        toStep: z.number().int(),
        index: z.number().int(),
        at: z.number().int(),
      }),
    )
    .optional(),
  /** A shared stage's payment: each provider's steps and amount; the amounts sum to `paid`. */
  payouts: z
    .array(z.strictObject({ provider: hex, fromStep: z.number().int(), toStep: z.number().int(), amount }))
    .optional(),
  /** Where the stage's data may be read in plaintext; absent: anywhere (its states are not sealed). */
  jurisdictions: z.array(z.string()).optional(),
  /** A restricted stage's key, sealed to each node the requester released it to (`releaseKey`). */
  keys: z.array(z.strictObject({ to: hex, sealed: z.string() })).optional(),
  /** The stage's output key, sealed to each node it was released to (sealed jobs). */
  outputKeys: z.array(z.strictObject({ to: hex, sealed: z.string() })).optional(),
  /** The matched offer's egress price per 10^9 bytes, fixed at the match. */
  egressPricePerGigabyte: amount.optional(),
  /** Inputs this stage's providers acknowledged receiving (`acknowledgeTransfer`) and the fees paid. */
  transfers: z
    .array(
      z.strictObject({
        input: hex,
        bytes: z.number().int(),
        from: z.string(),
        producer: hex,
        via: hex.optional(),
        egressFee: amount,
        relayFee: amount,
        by: hex,
        at: z.number().int(),
      }),
    )
    .optional(),
});
export const jobViewSchema = z.strictObject({
  id: hex,
  requester: hex,
  budget: amount,
  submittedAt: z.number().int(),
  /** The requester releases stage keys: restricted stages' states are sealed. */
  sealed: z.boolean().optional(),
  status: z.enum(["open", "finished"]),
  refund: amount.optional(),
  /** Part of the budget set aside for bandwidth and relay fees, and how much of it was paid. */
  transferBudget: amount.optional(),
  transferPaid: amount.optional(),
  escrow: amount,
  stages: z.array(stageViewSchema),
});
export type JobView = z.infer<typeof jobViewSchema>;
