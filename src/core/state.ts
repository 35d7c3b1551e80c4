/**
 * The whole state of the state machine. Plain data (Maps, arrays, bigints), so it can be encoded
 * canonically for the state hash and snapshots. Map iteration order is insertion order, which is
 * itself determined by the log; snapshots preserve it, so a restored state iterates exactly like a
 * replayed one.
 */

import type { Cid, Hex32, JobId, OfferId, PublicKeyHex } from "../protocol/ids.ts";
import type { StageSpec } from "../protocol/messages.ts";
import type { NetworkCoordinate } from "../protocol/network-coordinate.ts";
import type { Params } from "../protocol/params.ts";
import { defaultParams } from "../protocol/params.ts";
import type { Handoff, Payout, Progress } from "./jobs/progress.ts";
import type { ReputationRecord } from "./reputation/reputation.ts";
import type { EffectiveCost } from "./routing/effective-cost.ts";
import type { ReleasedKey } from "./routing/keys.ts";
import type { TransferRecord } from "./routing/transfer-fees.ts";
import type { DisputeState } from "./verification/dispute.ts";

export interface NodeRecord {
  readonly id: PublicKeyHex;
  readonly name: string;
  readonly city: string;
  readonly country: string;
  readonly jurisdictions: readonly string[];
  readonly latE6: number;
  readonly lonE6: number;
  readonly resourceClass: string;
  readonly capacity: number;
  readonly throughput: number;
  readonly endpoint?: string;
  /** The node's measured uplink, bytes per second (`registerNode`); absent if it did not report one. */
  readonly bytesPerSecond?: number;
  readonly registeredAt: number;
  /** Capacity committed to offers (never above `capacity`). */
  offered: number;
  /** Stages assigned to this node that are not yet terminal; stake backing them cannot leave. */
  openStages: number;
  /** The node's latest network coordinate (`reportCoordinate`), absent until it reports one. */
  coordinate?: NodeCoordinate;
}

/** A reported network coordinate and the sequencer time it was reported at. */
export interface NodeCoordinate extends NetworkCoordinate {
  readonly reportedAt: number;
}

export interface Offer {
  readonly id: OfferId;
  readonly provider: PublicKeyHex;
  readonly resourceClass: string;
  readonly capacity: number;
  readonly pricePerUnitSecond: bigint;
  /**
   * Micro-credits per 10^9 bytes: a relay's forwarding price, or another provider's egress price
   * for the outputs it serves (routing/transfer-fees.ts). Absent: 0.
   */
  readonly pricePerGigabyte?: bigint;
  readonly postedAt: number;
  /** Units held by matched stages that have not finished. */
  used: number;
  active: boolean;
}

export const stageStatuses = [
  "pending",
  "matched",
  "running",
  "committed",
  "accepted",
  "settled",
  "failed",
  "cancelled",
] as const;
export type StageStatus = (typeof stageStatuses)[number];

/** Why candidates were excluded when a stage found no offer: reason → count, plus a sample. */
export interface NoMatchExplanation {
  readonly candidates: number;
  readonly excluded: Readonly<Record<string, number>>;
  readonly sample: ReadonlyArray<{ readonly offerId: OfferId; readonly reason: string }>;
}

/** Why a stage went where it did: eligible offers, what excluded the rest, and the runner-up. */
export interface PlacementExplanation {
  readonly candidates: number;
  readonly eligible: number;
  readonly excluded: Readonly<Record<string, number>>;
  /**
   * Offers not examined: their price alone put them above the runner-up's effective cost
   * (market/match.ts). `eligible` and `excluded` count the examined offers.
   */
  readonly bounded?: number;
  /** The chosen provider's failure probability (reputation), ppm: its risk premium is price × this. */
  readonly failurePpm?: number;
  /** The chosen provider's effective cost, term by term (routing/effective-cost.ts), micro-credits. */
  readonly cost?: CostBreakdown;
  readonly runnerUp?: {
    readonly offerId: OfferId;
    readonly provider: PublicKeyHex;
    readonly price: bigint;
    readonly failurePpm?: number;
    readonly cost?: CostBreakdown;
  };
  /**
   * Present when the job had a joint plan for this stage (market/joint-plan.ts): true when the
   * planned offer was taken, false when it was no longer eligible and the stage's own cheapest was.
   */
  readonly planned?: boolean;
  /** The joint plan the stage was placed under: its total against the stage-by-stage greedy total. */
  readonly plan?: PlanSummary;
}

/** A joint plan's totals over the job's not-yet-placed stages, in effective-cost micro-credits. */
export interface PlanSummary {
  /** Σ effective cost of the planned offers, delays between planned stages included. */
  readonly total: number;
  /** The same sum when every stage takes its own cheapest offer in placement order (if that is feasible). */
  readonly greedyTotal?: number;
  /** True when branch and bound proved `total` optimal within its node limit. */
  readonly exact: boolean;
}

/**
 * Where the joint planner would put each not-yet-placed stage of a job, and the facts it assumed
 * (`basis`, with its planned stages counted as placed where planned): when those change — a stage
 * placed elsewhere than planned, an output's size declared, a provider timed out or barred — the
 * next placement of the job re-plans.
 */
export interface JobPlan extends PlanSummary {
  /** Digest of the facts the plan assumed (market/joint-plan.ts `planBasis`). */
  readonly basis: number;
  /** Stage name → planned offer. */
  readonly stages: Map<string, OfferId>;
  /** Branch-and-bound nodes the plan took (bounded by the planner's node limit). */
  readonly nodes: number;
}

export type CostBreakdown = EffectiveCost;

export interface Stage {
  readonly spec: StageSpec;
  status: StageStatus;
  /** Most escrow this stage can consume: max price × units × seconds, plus the fee on it. */
  readonly reserve: bigint;
  attempts: number;
  provider?: PublicKeyHex;
  offerId?: OfferId;
  price?: bigint;
  /** Sequencer time by which the current status must move on (start, commit or acceptance). */
  deadline?: number;
  root?: Hex32;
  output?: Hex32;
  /** Size of the committed output, bytes, when the provider declared it (`commitResult`). */
  outputBytes?: number;
  steps?: number;
  paid?: bigint;
  fee?: bigint;
  /** Providers that already missed a deadline on this stage; never matched to it again. */
  timedOut: PublicKeyHex[];
  noMatch?: NoMatchExplanation;
  placement?: PlacementExplanation;
  settlements: number;
  failure?: string;
  /**
   * `replicate:k`: the group this stage belongs to (the primary's name; the others are named
   * `<primary>~2` … `<primary>~k`). On the primary, once the group is resolved, the outcome and the
   * agreed result, which dependents read.
   */
  replication?: ReplicationRecord;
  /** Checkpoint layout and manifest blob of the committed result (spot-checked stages). */
  checkpointEvery?: number;
  manifest?: Cid;
  /** Providers a dispute proved wrong on this stage; never matched to it again. */
  barred?: PublicKeyHex[];
  /** The verification of the current commitment, while it is in progress. */
  check?: Check;
  /** Every finished verification of this stage, oldest first (a re-run adds one). */
  checks?: CheckRecord[];
  /** The running provider's last progress report (jobs/progress.ts). */
  progress?: Progress;
  /**
   * While running under a `progressTimeoutMs` lease: the run deadline itself. Once the provider
   * reported progress, `deadline` is the earlier of it and the lease's end, which each report renews.
   */
  runDeadline?: number;
  /** The checkpoint the next provider resumes from, kept when a provider vanished (failover). */
  resumeFrom?: Progress;
  /** Vanished providers' reported prefixes, oldest first: paid pro rata once the result is accepted. */
  handoffs?: Handoff[];
  /** Who was paid what at settlement, when the steps were shared between providers. */
  payouts?: Payout[];
  /** A restricted stage's key, sealed to each node the requester released it to (routing/keys.ts). */
  keys?: ReleasedKey[];
  /** In a sealed job, the stage's output key sealed to each node it was released to (routing/keys.ts). */
  outputKeys?: ReleasedKey[];
  /**
   * The matched offer's egress price, micro-credits per 10^9 bytes, copied at the match so that a
   * later change of the offer does not reprice work in flight (routing/transfer-fees.ts).
   */
  egressPricePerGigabyte?: bigint;
  /** Inputs this stage's providers acknowledged receiving, and the fees paid for them, oldest first. */
  transfers?: TransferRecord[];
}

export interface ReplicationRecord {
  readonly group: string;
  readonly k: number;
  outcome?: "agreed" | "no-quorum";
  root?: Hex32;
  output?: Hex32;
}

/**
 * Where the verification of a committed result stands (docs/verification.md): waiting for the
 * beacon of a later event; a verifier assigned (to commit, then reveal, its verdict); a bisection
 * dispute between provider and verifier; or a referee executing the one disputed step.
 */
export type CheckPhase =
  | "beacon"
  | "verifying"
  | "revealing"
  | "withheld"
  | "approved"
  | "disputing"
  | "refereeing";

export interface Check {
  phase: CheckPhase;
  /** Seq of the commitment: the beacon must come from a later event. */
  readonly commitSeq: number;
  ratePpm?: number;
  breakEvenPpm?: number;
  segment?: number;
  fromStep?: number;
  toStep?: number;
  /** The verifier's fee for this check (paid from escrow when the result is verified). */
  fee?: bigint;
  verifier?: PublicKeyHex;
  /** Verifiers and referees that went silent on this check; never assigned to it again. */
  readonly skipped: PublicKeyHex[];
  commitment?: Hex32;
  computed?: Hex32;
  dispute?: DisputeState;
  /** Content ids of states the parties said they serve, by step, for the referee. */
  readonly sources: Array<{ readonly step: number; readonly cid: Cid; readonly holder: PublicKeyHex }>;
  referee?: PublicKeyHex;
  /** What the provider revealed after a `withheld` verdict: the segment's start state and its checkpoints. */
  revealed?: {
    readonly state: Cid;
    readonly agreed: { readonly hash: Hex32; readonly proof: readonly Hex32[] };
    readonly claimed: { readonly hash: Hex32; readonly proof: readonly Hex32[] };
  };
  /** End of the commitment's challenge window: an approved result settles then, not before. */
  windowEnd?: number;
  /**
   * A canary dispute (verification.md §9): the verifier that approved defends the committed claim
   * (`provider` side) against the canary's provider, who proves it wrong (`challenger` side).
   */
  canary?: { readonly defender: PublicKeyHex; readonly challenger: PublicKeyHex };
}

export const checkOutcomes = [
  "unchecked",
  "waived",
  "no-verifier",
  "verified",
  "fraud-proven",
  "verifier-wrong",
  "both-wrong",
  "provider-silent",
  "verifier-silent",
  "both-silent",
  "no-referee",
  "replica-agreed",
  "replica-dissent",
  "no-quorum",
  "canary-passed",
  "canary-caught",
  "canary-false",
] as const;
export type CheckOutcome = (typeof checkOutcomes)[number];

/** One finished verification: what was decided, by whom, and who paid for a proven fault. */
export interface CheckRecord {
  readonly provider: PublicKeyHex;
  readonly checked: boolean;
  readonly ratePpm: number;
  readonly segment?: number;
  readonly verifier?: PublicKeyHex;
  readonly referee?: PublicKeyHex;
  readonly rounds?: number;
  /** The verifier's fee for the check (paid from escrow only when the result was verified). */
  readonly fee: bigint;
  readonly outcome: CheckOutcome;
  readonly slashed: ReadonlyArray<{ readonly who: PublicKeyHex; readonly amount: bigint }>;
  readonly at: number;
}

export interface Job {
  readonly id: JobId;
  readonly requester: PublicKeyHex;
  readonly budget: bigint;
  /** Micro-credits per second of waiting (submitJob), priced by the matcher; 0 if not given. */
  readonly valueOfTimePerSecond?: number;
  readonly submittedAt: number;
  /** The requester releases stage keys: its restricted stages' states are sealed (routing/keys.ts). */
  readonly sealed?: true;
  /** Part of the budget set aside for bandwidth and relay fees (`submitJob`); absent: 0. */
  readonly transferBudget?: bigint;
  /** Bandwidth and relay fees paid so far (routing/transfer-fees.ts); present with a transfer budget. */
  transferPaid?: bigint;
  readonly stages: Map<string, Stage>;
  status: "open" | "finished";
  refund?: bigint;
  /**
   * The joint plan for the stages not placed yet (market/joint-plan.ts); absent below two pending
   * stages and dropped once none is pending.
   */
  plan?: JobPlan;
}

export interface UnbondEntry {
  readonly amount: bigint;
  readonly releaseAt: number;
}

export interface State {
  net: string | null;
  params: Params;
  devFaucet: boolean;
  /** Seq and time of the last applied event; -1 before genesis. */
  seq: number;
  time: number;
  /** Last accepted nonce per signer. */
  readonly nonces: Map<PublicKeyHex, bigint>;
  /** Double-entry accounts: name → balance in micro-credits. See ledger/accounts.ts for names. */
  readonly balances: Map<string, bigint>;
  readonly unbonding: Map<PublicKeyHex, UnbondEntry[]>;
  readonly nodes: Map<PublicKeyHex, NodeRecord>;
  readonly offers: Map<OfferId, Offer>;
  readonly jobs: Map<JobId, Job>;
  /** Stage keys (`jobId/name`) waiting for a match, in arrival order. */
  readonly pending: Map<string, true>;
  /** Stage keys with a deadline (matched, running, committed), in arrival order. */
  readonly active: Map<string, true>;
  /** Committed stages whose verification waits for the beacon of a later event. */
  readonly awaitingBeacon: Map<string, true>;
  /** Track record per (provider, workload class): reputationKey → record. */
  readonly reputation: Map<string, ReputationRecord>;
  /** Canary commitments posted by the canary authority: H(job ‖ stage ‖ salt) → seq posted. */
  readonly canaryCommitments: Map<Hex32, number>;
  /** Verifiers caught approving a canary: never drawn to check or referee again. */
  readonly ejected: Map<PublicKeyHex, number>;
  /** Price index per (resource class, region), moved once per `priceEpochMs` at a tick. */
  readonly priceIndex: PriceIndexState;
}

export function createState(): State {
  return {
    net: null,
    params: defaultParams,
    devFaucet: false,
    seq: -1,
    time: 0,
    nonces: new Map(),
    balances: new Map(),
    unbonding: new Map(),
    nodes: new Map(),
    offers: new Map(),
    jobs: new Map(),
    pending: new Map(),
    active: new Map(),
    awaitingBeacon: new Map(),
    reputation: new Map(),
    canaryCommitments: new Map(),
    ejected: new Map(),
    priceIndex: { epochAt: 0, entries: new Map() },
  };
}

export const stageKey = (jobId: JobId, name: string): string => `${jobId}/${name}`;

/** The published price index of one (resource class, region); see routing/price-epoch.ts. */
export interface PriceIndexRecord {
  readonly resourceClass: string;
  readonly region: string;
  /** Micro-credits per unit-second. */
  index: bigint;
  /** Share of the active offers' capacity in use when the last epoch measured it, in bps. */
  utilizationBps: number;
  /** Sequencer time of that epoch. */
  updatedAt: number;
}

export interface PriceIndexState {
  /** Sequencer time of the last price epoch; 0 before the first. */
  epochAt: number;
  /** `class|region` → record, in the order the log first saw each key. */
  readonly entries: Map<string, PriceIndexRecord>;
}
