/**
 * The first matcher: hard constraints, then the lowest price; ties go to the lower offer id so every
 * replica picks the same offer. Every "no match" explains itself: how many candidates each
 * constraint excluded, and a sample of which offer failed which check.
 */
import { type GeoPoint, predictRttMs } from "../../protocol/geo.ts";
import { staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { emptyReputation, failurePpm, reputationKey } from "../reputation/reputation.ts";
import type { Job, NoMatchExplanation, Offer, PlacementExplanation, Stage, State } from "../state.ts";
import { groupProviders } from "../verification/replication-group.ts";

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
  readonly latency?: { readonly point: GeoPoint; readonly maxRttMs: number };
  readonly loop?: { readonly point: GeoPoint; readonly maxRttMs: number };
}

function nodePointOf(state: State, job: Job, stageName: string): GeoPoint | null {
  const provider = job.stages.get(stageName)?.provider;
  const node = provider === undefined ? undefined : state.nodes.get(provider);
  return node === undefined ? null : { latE6: node.latE6, lonE6: node.lonE6 };
}

/** Resolve a stage's latency and loop bounds, or null if a stage they refer to is not placed yet. */
export function proximityBounds(state: State, job: Job, stage: Stage): ProximityBounds | null {
  const { latency, loop } = stage.spec;
  let bounds: ProximityBounds = {};
  if (latency !== undefined) {
    const point = "stage" in latency.to ? nodePointOf(state, job, latency.to.stage) : latency.to;
    if (point === null) return null;
    bounds = { ...bounds, latency: { point, maxRttMs: latency.maxRttMs } };
  }
  if (loop !== undefined) {
    const point = nodePointOf(state, job, loop.with);
    if (point === null) return null;
    bounds = { ...bounds, loop: { point, maxRttMs: loop.maxRttMs } };
  }
  return bounds;
}

function exclusion(
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
  if (bounds.latency !== undefined && predictRttMs(node, bounds.latency.point) > bounds.latency.maxRttMs) {
    return "latency";
  }
  if (bounds.loop !== undefined && predictRttMs(node, bounds.loop.point) > bounds.loop.maxRttMs) {
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

/**
 * What an offer costs once its risk is priced: price × (1 + P(failure)), P from the provider's
 * reputation for the stage's program (reputation.ts failurePpm) — the expected cost of redoing the
 * work. In ppm-scaled micro-credits, so it compares exactly.
 */
function riskedPrice(state: State, offer: Offer, stage: Stage): { value: bigint; failurePpm: number } {
  const record = state.reputation.get(reputationKey(offer.provider, stage.spec.program)) ?? emptyReputation;
  const failure = failurePpm(record);
  return { value: offer.pricePerUnitSecond * BigInt(1_000_000 + failure), failurePpm: failure };
}

/** True when `a` is preferred to `b`: a lower risk-priced cost, ties to the lower offer id. */
function cheaper(a: { value: bigint; id: string }, b: { value: bigint; id: string }): boolean {
  return a.value < b.value || (a.value === b.value && a.id < b.id);
}

/**
 * Find the cheapest eligible offer for a stage under resolved bounds, or explain why there is none.
 * A match explains itself too: how many offers were eligible, what excluded the others, and the
 * runner-up the chosen offer beat.
 */
export function findOffer(state: State, job: Job, stage: Stage, bounds: ProximityBounds): MatchResult {
  const requester = job.requester;
  // Replicas of one stage run on distinct providers, or the quorum would count one machine twice.
  const replicaProviders = groupProviders(job, stage);
  type Ranked = { offer: Offer; id: string; value: bigint; failurePpm: number };
  let best: Ranked | null = null;
  let second: Ranked | null = null;
  let eligible = 0;
  const excluded: Partial<Record<ExclusionReason, number>> = {};
  const sample: Array<{ offerId: Offer["id"]; reason: string }> = [];
  let candidates = 0;
  for (const offer of state.offers.values()) {
    candidates++;
    const reason = exclusion(state, offer, stage, requester, bounds, replicaProviders);
    if (reason !== null) {
      excluded[reason] = (excluded[reason] ?? 0) + 1;
      if (sample.length < sampleSize) sample.push({ offerId: offer.id, reason });
      continue;
    }
    eligible++;
    const ranked = { offer, id: offer.id, ...riskedPrice(state, offer, stage) };
    if (best === null || cheaper(ranked, best)) {
      second = best;
      best = ranked;
    } else if (second === null || cheaper(ranked, second)) {
      second = ranked;
    }
  }
  if (best === null) return { ok: false, explanation: { candidates, excluded, sample } };
  const runnerUp =
    second === null
      ? {}
      : {
          runnerUp: {
            offerId: second.offer.id,
            provider: second.offer.provider,
            price: second.offer.pricePerUnitSecond,
            failurePpm: second.failurePpm,
          },
        };
  return {
    ok: true,
    offer: best.offer,
    explanation: { candidates, eligible, excluded, failurePpm: best.failurePpm, ...runnerUp },
  };
}
