/**
 * The first matcher: hard constraints, then the lowest price; ties go to the lower offer id so every
 * replica picks the same offer. Every "no match" explains itself: how many candidates each
 * constraint excluded, and a sample of which offer failed which check.
 */
import type { PublicKeyHex } from "../../protocol/ids.ts";
import { staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import type { NoMatchExplanation, Offer, Stage, State } from "../state.ts";

/** Exclusion reasons, in the order they are checked. */
export const exclusionReasons = [
  "inactive",
  "resource-class",
  "self-dealing",
  "timed-out-before",
  "jurisdiction",
  "city",
  "throughput",
  "price",
  "capacity",
  "stake",
] as const;
export type ExclusionReason = (typeof exclusionReasons)[number];

const sampleSize = 16;

function exclusion(
  state: State,
  offer: Offer,
  stage: Stage,
  requester: PublicKeyHex,
): ExclusionReason | null {
  const spec = stage.spec;
  if (!offer.active) return "inactive";
  if (offer.resourceClass !== spec.resourceClass) return "resource-class";
  if (offer.provider === requester) return "self-dealing";
  if (stage.timedOut.includes(offer.provider)) return "timed-out-before";
  const node = state.nodes.get(offer.provider);
  if (node === undefined) return "inactive";
  if (spec.jurisdictions !== undefined && !spec.jurisdictions.some((j) => node.jurisdictions.includes(j))) {
    return "jurisdiction";
  }
  if (spec.cities !== undefined && !spec.cities.includes(node.city)) return "city";
  if (spec.minThroughput !== undefined && node.throughput < spec.minThroughput) return "throughput";
  if (offer.pricePerUnitSecond > spec.maxPricePerUnitSecond) return "price";
  if (offer.capacity - offer.used < spec.units) return "capacity";
  if (balanceOf(state, staked(offer.provider)) < state.params.minProviderStake) return "stake";
  return null;
}

export type MatchResult =
  | { readonly ok: true; readonly offer: Offer }
  | { readonly ok: false; readonly explanation: NoMatchExplanation };

/** Find the cheapest eligible offer for a stage, or explain why there is none. */
export function findOffer(state: State, stage: Stage, requester: PublicKeyHex): MatchResult {
  let best: Offer | null = null;
  const excluded: Partial<Record<ExclusionReason, number>> = {};
  const sample: Array<{ offerId: Offer["id"]; reason: string }> = [];
  let candidates = 0;
  for (const offer of state.offers.values()) {
    candidates++;
    const reason = exclusion(state, offer, stage, requester);
    if (reason !== null) {
      excluded[reason] = (excluded[reason] ?? 0) + 1;
      if (sample.length < sampleSize) sample.push({ offerId: offer.id, reason });
      continue;
    }
    if (
      best === null ||
      offer.pricePerUnitSecond < best.pricePerUnitSecond ||
      (offer.pricePerUnitSecond === best.pricePerUnitSecond && offer.id < best.id)
    ) {
      best = offer;
    }
  }
  if (best !== null) return { ok: true, offer: best };
  return { ok: false, explanation: { candidates, excluded, sample } };
}
