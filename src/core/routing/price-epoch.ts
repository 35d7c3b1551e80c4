/**
 * The price index as a state slice: once per `priceEpochMs` of sequencer time, at the first tick
 * after the epoch ends, every (resource class, region) with active offers is measured and its index
 * moved by the EIP-1559 rule of price-index.ts, stopped at the book's asks.
 *
 * - Utilization is a reading at the epoch's tick: Σ used / Σ capacity over the active offers of the
 *   (class, region), floored to bps. It is a sample, not a time average over the epoch.
 * - A (class, region) the index has not seen starts at the capacity-weighted mean ask of its active
 *   offers (floor), and moves from the next epoch on.
 * - A (class, region) without active offers keeps its index, reading and `updatedAt`, so its age
 *   shows that nothing was measured since.
 *
 * Ticks never reject, so this never throws; keys are visited in sorted order and all arithmetic on
 * prices is bigint, so every replica writes the same records.
 */
import { regionOf } from "../../protocol/regions.ts";
import type { ApplyContext } from "../context.ts";
import type { PriceIndexRecord, State } from "../state.ts";
import { nextPriceIndexWithinAsks, priceIndexKey } from "./price-index.ts";

/** The active offers of one (class, region), summed. */
interface BookReading {
  readonly resourceClass: string;
  readonly region: string;
  capacity: bigint;
  used: bigint;
  /** Σ ask × capacity. */
  askTimesCapacity: bigint;
  lowestAsk: bigint;
  highestAsk: bigint;
}

/** The active book per `class|region`, in sorted key order. */
function readBook(state: State): Array<[string, BookReading]> {
  const book = new Map<string, BookReading>();
  for (const offer of state.offers.values()) {
    if (!offer.active) continue;
    const node = state.nodes.get(offer.provider);
    // Offers are only posted by registered nodes and nodes are never removed; the market view
    // names the same impossible case "unknown".
    const region = node === undefined ? "unknown" : regionOf(node.country);
    const key = priceIndexKey(offer.resourceClass, region);
    const capacity = BigInt(offer.capacity);
    const price = offer.pricePerUnitSecond;
    const reading = book.get(key);
    if (reading === undefined) {
      book.set(key, {
        resourceClass: offer.resourceClass,
        region,
        capacity,
        used: BigInt(offer.used),
        askTimesCapacity: price * capacity,
        lowestAsk: price,
        highestAsk: price,
      });
      continue;
    }
    reading.capacity += capacity;
    reading.used += BigInt(offer.used);
    reading.askTimesCapacity += price * capacity;
    if (price < reading.lowestAsk) reading.lowestAsk = price;
    if (price > reading.highestAsk) reading.highestAsk = price;
  }
  return [...book].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** True once `priceEpochMs` of sequencer time has passed since the last epoch. */
export function priceEpochDue(state: State, time: number): boolean {
  return time - state.priceIndex.epochAt >= state.params.priceEpochMs;
}

/**
 * What an epoch at `time` would write: the new record of every (class, region) with active offers,
 * in key order. Pure: reads the state, changes nothing.
 */
export function planPriceEpoch(state: State, time: number): PriceIndexRecord[] {
  return readBook(state).map(([key, r]) => {
    // Capacity is at least 1 per offer (schema), so the divisions are safe.
    const utilizationBps = Number((r.used * 10_000n) / r.capacity);
    const before = state.priceIndex.entries.get(key);
    const index =
      before === undefined
        ? r.askTimesCapacity / r.capacity
        : nextPriceIndexWithinAsks(before.index, utilizationBps, r.lowestAsk, r.highestAsk);
    return { resourceClass: r.resourceClass, region: r.region, index, utilizationBps, updatedAt: time };
  });
}

/**
 * True when an epoch is due at `time` and would change an index or a utilization reading, or start
 * an index. The coordinator's ticker uses it to sequence a tick only when one changes something, so
 * an idle network's log does not grow by a tick per epoch once its indices are at rest.
 */
export function priceEpochWouldChange(state: State, time: number): boolean {
  if (!priceEpochDue(state, time)) return false;
  return planPriceEpoch(state, time).some((next) => {
    const before = state.priceIndex.entries.get(priceIndexKey(next.resourceClass, next.region));
    return (
      before === undefined || before.index !== next.index || before.utilizationBps !== next.utilizationBps
    );
  });
}

/** Run the price epoch at a tick, if one is due. Never throws. */
export function applyPriceEpoch(ctx: ApplyContext): void {
  const { state } = ctx;
  if (!priceEpochDue(state, ctx.time)) return;
  for (const next of planPriceEpoch(state, ctx.time)) {
    const key = priceIndexKey(next.resourceClass, next.region);
    const record = state.priceIndex.entries.get(key);
    if (record === undefined) {
      state.priceIndex.entries.set(key, next);
      continue;
    }
    record.index = next.index;
    record.utilizationBps = next.utilizationBps;
    record.updatedAt = next.updatedAt;
  }
  state.priceIndex.epochAt = ctx.time;
}
