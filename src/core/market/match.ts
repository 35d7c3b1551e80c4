/**
 * The matcher: hard constraints, then the lowest effective cost (offer-cost.ts) — or the offer the
 * job's joint plan chose (joint-plan.ts) while it is eligible; ties go to the lower offer id so every
 * replica picks the same offer. Every "no match" explains itself: how many candidates each
 * constraint excluded, and a sample of which offer failed which check.
 */
import type { OfferId } from "../../protocol/ids.ts";
import { staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { timeValue } from "../routing/effective-cost.ts";
import { predictRtt, type RttEndpoint } from "../routing/node-rtt.ts";
import type { Job, NoMatchExplanation, Offer, PlacementExplanation, Stage, State } from "../state.ts";
import { groupProviders } from "../verification/replication-group.ts";
import { type NodeOfStage, offerCost, placedNodes, type RankedCost, rttEndpointOf } from "./offer-cost.ts";
import { offersByPrice } from "./offer-index.ts";

/** Exclusion reasons, in the order they are checked. */
export const exclusionReasons = [
  "inactive",
  "resource-class",
  "self-dealing",
  "timed-out-before",
  "failed-verification-before",
  "replica-provider",
  "jurisdiction",
  "city",
  "throughput",
  "latency",
  "loop-latency",
  "price",
  "capacity",
  "stake",
] as const;
export type ExclusionReason = (typeof exclusionReasons)[number];

const sampleSize = 16;

/**
 * Where the stage must be near, resolved against the job: a fixed point, or the node of an
 * already-placed stage.
 */
export interface ProximityBounds {
  readonly latency?: { readonly point: RttEndpoint; readonly maxRttMs: number };
  readonly loop?: { readonly point: RttEndpoint; readonly maxRttMs: number };
}

/**
 * Resolve a stage's latency and loop bounds, or null if a stage they refer to is not placed yet.
 * With `partial`, a bound whose stage is not placed is left out instead (the joint planner checks
 * it against the node it plans for that stage).
 *
 * @example
 * const bounds = proximityBounds(state, job, stage); // null: wait for the stage it refers to
 */
export function proximityBounds(
  state: State,
  job: Job,
  stage: Stage,
  nodeOf: NodeOfStage = placedNodes(state, job),
  partial = false,
): ProximityBounds | null {
  const { latency, loop } = stage.spec;
  const pointOf = (name: string): RttEndpoint | null => {
    const node = nodeOf(name);
    return node === undefined ? null : rttEndpointOf(node);
  };
  let bounds: ProximityBounds = {};
  if (latency !== undefined) {
    const point = "stage" in latency.to ? pointOf(latency.to.stage) : latency.to;
    if (point !== null) bounds = { ...bounds, latency: { point, maxRttMs: latency.maxRttMs } };
    else if (!partial) return null;
  }
  if (loop !== undefined) {
    const point = pointOf(loop.with);
    if (point !== null) bounds = { ...bounds, loop: { point, maxRttMs: loop.maxRttMs } };
    else if (!partial) return null;
  }
  return bounds;
}

/**
 * Why `offer` cannot take `stage` under resolved bounds, or null when it can: the live matcher's
 * eligibility, which the joint planner (joint-plan.ts) applies unchanged. `replicaProviders` are the
 * providers the stage's replica group already holds.
 *
 * @example
 * exclusion(state, offer, stage, job.requester, bounds, groupProviders(job, stage)); // e.g. "capacity"
 */
export function exclusion(
  state: State,
  offer: Offer,
  stage: Stage,
  requester: Job["requester"],
  bounds: ProximityBounds,
  replicaProviders: ReadonlySet<string>,
): ExclusionReason | null {
  const spec = stage.spec;
  if (!offer.active) return "inactive";
  if (offer.resourceClass !== spec.resourceClass) return "resource-class";
  if (offer.provider === requester) return "self-dealing";
  if (stage.timedOut.includes(offer.provider)) return "timed-out-before";
  if (stage.barred?.includes(offer.provider)) return "failed-verification-before";
  if (replicaProviders.has(offer.provider)) return "replica-provider";
  const node = state.nodes.get(offer.provider);
  if (node === undefined) return "inactive";
  if (spec.jurisdictions !== undefined && !spec.jurisdictions.some((j) => node.jurisdictions.includes(j))) {
    return "jurisdiction";
  }
  if (spec.cities !== undefined && !spec.cities.includes(node.city)) return "city";
  if (spec.minThroughput !== undefined && node.throughput < spec.minThroughput) return "throughput";
  // Between two nodes the live coordinates predict the RTT (geography until both reported one).
  const here = rttEndpointOf(node);
  if (
    bounds.latency !== undefined &&
    predictRtt(here, bounds.latency.point).rttMs > bounds.latency.maxRttMs
  ) {
    return "latency";
  }
  if (bounds.loop !== undefined && predictRtt(here, bounds.loop.point).rttMs > bounds.loop.maxRttMs) {
    return "loop-latency";
  }
  if (offer.pricePerUnitSecond > spec.maxPricePerUnitSecond) return "price";
  if (offer.capacity - offer.used < spec.units) return "capacity";
  if (balanceOf(state, staked(offer.provider)) < state.params.minProviderStake) return "stake";
  return null;
}

export type MatchResult =
  | { readonly ok: true; readonly offer: Offer; readonly explanation: PlacementExplanation }
  | { readonly ok: false; readonly explanation: NoMatchExplanation };

/** True when `a` is preferred to `b`: a lower effective cost, ties to the lower offer id. */
function cheaper(a: { value: number; id: string }, b: { value: number; id: string }): boolean {
  return a.value < b.value || (a.value === b.value && a.id < b.id);
}

/**
 * An offer's compute and time terms: a lower bound of its effective cost (delay, risk and
 * verification are never negative), computed exactly as `effectiveCost` computes those two terms,
 * and non-decreasing in the asking price alone — which is what lets `findOffer` stop early.
 */
function priceBound(job: Job, stage: Stage, offer: Offer): number {
  const last = Number.MAX_SAFE_INTEGER;
  if (offer.pricePerUnitSecond > BigInt(last)) return last;
  const ms = stage.spec.seconds * 1000;
  const compute = Math.floor((Number(offer.pricePerUnitSecond) * stage.spec.units * ms) / 1000);
  return Math.min(last, compute + timeValue(job.valueOfTimePerSecond ?? 0, ms));
}

/**
 * Find the cheapest eligible offer for a stage under resolved bounds, or explain why there is none.
 * A match explains itself too: how many offers were eligible, what excluded the others, and the
 * runner-up the chosen offer beat.
 *
 * Offers of the stage's class (inside its jurisdiction, when it names exactly one) are examined
 * cheapest first (offer-index.ts). Once an offer's price bound exceeds the runner-up's whole
 * effective cost, neither it nor any dearer offer can be chosen or be the runner-up, so the rest are
 * not examined: the explanation counts them as `bounded`, and its `eligible` and `excluded` counts
 * cover the examined offers, plus every offer of another class (`resource-class`) or, for a stage
 * held to one jurisdiction, outside it (`jurisdiction`).
 * The result — chosen offer and runner-up — is the one a scan of every offer would give;
 * `exhaustive: true` does that scan (every offer examined and counted), for explanations and tests.
 *
 * With `planned` (the job's joint plan, joint-plan.ts) that offer is taken when it is still
 * eligible — examined after the others if the bound stopped before it — and the runner-up is then
 * the best other offer by this stage's own cost; the explanation says whether the plan was
 * followed (`planned`).
 *
 * @example
 * const result = findOffer(state, job, stage, proximityBounds(state, job, stage)!);
 * if (result.ok) console.log(result.offer.id, result.explanation.runnerUp?.cost);
 */
export function findOffer(
  state: State,
  job: Job,
  stage: Stage,
  bounds: ProximityBounds,
  options: { readonly exhaustive?: boolean; readonly planned?: OfferId } = {},
): MatchResult {
  const requester = job.requester;
  const plannedOfferId = options.planned;
  // Replicas of one stage run on distinct providers, or the quorum would count one machine twice.
  const replicaProviders = groupProviders(job, stage);
  const nodeOf = placedNodes(state, job);
  type Ranked = RankedCost & { offer: Offer; id: string };
  let best: Ranked | null = null;
  let second: Ranked | null = null;
  let planned: Ranked | null = null;
  let eligible = 0;
  const excluded: Partial<Record<ExclusionReason, number>> = {};
  const sample: Array<{ offerId: Offer["id"]; reason: string }> = [];
  const candidates = state.offers.size;
  const exhaustive = options.exhaustive === true;
  let examine: Iterable<Offer> = state.offers.values();
  let left = 0;
  if (!exhaustive) {
    const spec = stage.spec;
    const ofClass = offersByPrice(state, spec.resourceClass);
    if (candidates > ofClass.length) excluded["resource-class"] = candidates - ofClass.length;
    // A stage held to one jurisdiction reads only the offers inside it; the others are counted.
    const only = spec.jurisdictions?.length === 1 ? spec.jurisdictions[0]! : undefined;
    const inside = only === undefined ? ofClass : offersByPrice(state, spec.resourceClass, only);
    if (ofClass.length > inside.length) excluded.jurisdiction = ofClass.length - inside.length;
    examine = inside;
    left = inside.length;
  }
  let bounded = 0;
  for (const offer of examine) {
    if (!exhaustive && second !== null && priceBound(job, stage, offer) > second.value) {
      bounded = left;
      break;
    }
    left--;
    const reason = exclusion(state, offer, stage, requester, bounds, replicaProviders);
    if (reason !== null) {
      excluded[reason] = (excluded[reason] ?? 0) + 1;
      if (sample.length < sampleSize) sample.push({ offerId: offer.id, reason });
      continue;
    }
    eligible++;
    const ranked = { offer, id: offer.id, ...offerCost(state, job, stage, offer, nodeOf) };
    if (offer.id === plannedOfferId) planned = ranked;
    if (best === null || cheaper(ranked, best)) {
      second = best;
      best = ranked;
    } else if (second === null || cheaper(ranked, second)) {
      second = ranked;
    }
  }
  if (best === null) {
    // Nobody qualified: explain it with every offer examined, as a scan would (nothing was bounded).
    if (options.exhaustive !== true)
      return findOffer(state, job, stage, bounds, { ...options, exhaustive: true });
    return { ok: false, explanation: { candidates, excluded, sample } };
  }
  if (plannedOfferId !== undefined && planned === null && bounded > 0) {
    // The bound stopped before the planned offer (dearer than the runner-up alone): examine it too.
    const offer = state.offers.get(plannedOfferId);
    if (offer !== undefined && exclusion(state, offer, stage, requester, bounds, replicaProviders) === null) {
      planned = { offer, id: offer.id, ...offerCost(state, job, stage, offer, nodeOf) };
      eligible++;
      bounded--;
    }
  }
  const chosen = planned ?? best;
  const runner = chosen === best ? second : best;
  const runnerUp =
    runner === null
      ? {}
      : {
          runnerUp: {
            offerId: runner.offer.id,
            provider: runner.offer.provider,
            price: runner.offer.pricePerUnitSecond,
            failurePpm: runner.failurePpm,
            cost: runner.cost,
          },
        };
  return {
    ok: true,
    offer: chosen.offer,
    explanation: {
      candidates,
      eligible,
      excluded,
      ...(bounded === 0 ? {} : { bounded }),
      failurePpm: chosen.failurePpm,
      cost: chosen.cost,
      ...runnerUp,
      ...(plannedOfferId === undefined ? {} : { planned: planned !== null }),
    },
  };
}
