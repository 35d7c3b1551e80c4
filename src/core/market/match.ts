/**
 * The first matcher: hard constraints, then the lowest price; ties go to the lower offer id so every
 * replica picks the same offer. Every "no match" explains itself: how many candidates each
 * constraint excluded, and a sample of which offer failed which check.
 */
import { staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { emptyReputation, failurePpm, reputationKey, riskPpm } from "../reputation/reputation.ts";
import { effectiveCost } from "../routing/effective-cost.ts";
import { predictRtt, type RttEndpoint } from "../routing/node-rtt.ts";
import type {
  CostBreakdown,
  Job,
  NodeRecord,
  NoMatchExplanation,
  Offer,
  PlacementExplanation,
  Stage,
  State,
} from "../state.ts";
import { spotCheckRate } from "../verification/policy.ts";
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
  readonly latency?: { readonly point: RttEndpoint; readonly maxRttMs: number };
  readonly loop?: { readonly point: RttEndpoint; readonly maxRttMs: number };
}

/** A node as an RTT endpoint: its place, and its live network coordinate once it reported one. */
export function rttEndpointOf(node: NodeRecord): RttEndpoint {
  return { latE6: node.latE6, lonE6: node.lonE6, coordinate: node.coordinate };
}

function nodePointOf(state: State, job: Job, stageName: string): RttEndpoint | null {
  const provider = job.stages.get(stageName)?.provider;
  const node = provider === undefined ? undefined : state.nodes.get(provider);
  return node === undefined ? null : rttEndpointOf(node);
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

/**
 * What an offer would cost the requester, term by term (routing/effective-cost.ts, DESIGN.md §4):
 * price × duration, the requester's value of time for the run and for the delay this provider
 * implies (one round trip per input from the provider that produced it, and the loop's round trips
 * to its partner, with RTTs from live network coordinates or geography), the risk premium from
 * reputation (P(failure) × the cost of redoing the work) and the expected verifier fee.
 */
function offerCost(
  state: State,
  job: Job,
  stage: Stage,
  offer: Offer,
): { value: number; failurePpm: number; cost: CostBreakdown } {
  const spec = stage.spec;
  const node = state.nodes.get(offer.provider)!;
  const here = rttEndpointOf(node);
  const record = state.reputation.get(reputationKey(offer.provider, spec.program)) ?? emptyReputation;
  const failure = failurePpm(record);
  let transfer = 0;
  for (const dep of spec.after) {
    const from = job.stages.get(dep)?.provider;
    const producer = from === undefined ? undefined : state.nodes.get(from);
    if (producer !== undefined && producer.id !== node.id)
      transfer += predictRtt(rttEndpointOf(producer), here).rttMs;
  }
  let loop = 0;
  if (spec.loop !== undefined) {
    const partner = nodePointOf(state, job, spec.loop.with);
    if (partner !== null) loop = spec.loop.iterations * predictRtt(here, partner).rttMs;
  }
  let verificationBps = 0;
  if (spec.verification === "spot") {
    const p = state.params;
    const payment = offer.pricePerUnitSecond * BigInt(spec.units) * BigInt(spec.seconds);
    const rate = spotCheckRate(
      {
        paymentMicro: payment,
        stakeMicro: balanceOf(state, staked(offer.provider)),
        slashBps: p.fraudSlashBps,
        cheatGainMicro: payment,
        verifierFeeMicro: (payment * BigInt(p.verifierFeeBps)) / 10_000n,
        riskPpm: riskPpm(record),
      },
      { floorPpm: p.spotFloorPpm, marginPpm: p.spotMarginPpm, newcomerPpm: p.spotNewcomerPpm },
    );
    verificationBps = Math.floor((rate.ppm * p.verifierFeeBps) / 1_000_000);
  }
  const price = offer.pricePerUnitSecond;
  if (price > BigInt(Number.MAX_SAFE_INTEGER)) {
    // Beyond any real price: rank it last rather than lose precision.
    const last = Number.MAX_SAFE_INTEGER;
    return {
      value: last,
      failurePpm: failure,
      cost: { compute: last, time: 0, delay: 0, risk: 0, verification: 0, total: last },
    };
  }
  try {
    const cost = effectiveCost({
      pricePerUnitSecond: Number(price),
      units: spec.units,
      durationMs: spec.seconds * 1000,
      valueOfTimePerSecond: job.valueOfTimePerSecond ?? 0,
      queueMs: 0,
      transferMs: transfer,
      loopMs: loop,
      failureBps: Math.floor(failure / 100),
      verificationBps,
    });
    return { value: cost.total, failurePpm: failure, cost };
  } catch {
    const last = Number.MAX_SAFE_INTEGER;
    return {
      value: last,
      failurePpm: failure,
      cost: { compute: last, time: 0, delay: 0, risk: 0, verification: 0, total: last },
    };
  }
}

/** True when `a` is preferred to `b`: a lower effective cost, ties to the lower offer id. */
function cheaper(a: { value: number; id: string }, b: { value: number; id: string }): boolean {
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
  type Ranked = { offer: Offer; id: string; value: number; failurePpm: number; cost: CostBreakdown };
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
    const ranked = { offer, id: offer.id, ...offerCost(state, job, stage, offer) };
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
            cost: second.cost,
          },
        };
  return {
    ok: true,
    offer: best.offer,
    explanation: {
      candidates,
      eligible,
      excluded,
      failurePpm: best.failurePpm,
      cost: best.cost,
      ...runnerUp,
    },
  };
}
