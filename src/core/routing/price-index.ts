/**
 * A published price index per (resource class, region) that moves with utilization, by the rule of
 * Ethereum's EIP-1559 base fee: each epoch the index moves towards balancing demand and supply by at
 * most 1/8 (12.5 %), in proportion to how far utilization was from its target.
 *
 *   next = index + index × (utilization − target) / (target × 8)      (integer floor; ≥ minIndex)
 *
 * utilization and target are in basis points of capacity used over the epoch (target 5,000 = half
 * full, so the index rises when a region is more than half booked and falls when it is idle). With
 * utilization 100 % and target 50 % the index rises exactly 12.5 %; idle, it falls 12.5 %. The
 * index is a signal — the default reserve price a bid is compared with and the figure `switchyard
 * market` shows — not a price anyone is forced to pay: offers still ask their own price.
 *
 * Integer arithmetic in bigint micro-credits per unit-second: it is money-like and published, so it
 * must be identical on every replica.
 */

export interface PriceIndexEntry {
  readonly resourceClass: string;
  readonly region: string;
  /** micro-credits per unit-second */
  readonly index: bigint;
}

export interface PriceIndexRule {
  /** Target utilization, bps of capacity (EIP-1559's gas target is half the limit: 5,000). */
  readonly targetBps: number;
  /** The largest move per epoch is 1 / maxChangeDenominator of the index (EIP-1559: 8). */
  readonly maxChangeDenominator: number;
  /** Floor, so an idle region's index cannot decay to zero and stop moving. */
  readonly minIndex: bigint;
}

export const defaultPriceIndexRule: PriceIndexRule = {
  targetBps: 5_000,
  maxChangeDenominator: 8,
  minIndex: 1n,
};

/** The index after one epoch with `utilizationBps` (clamped to 0..10,000) of capacity in use. */
export function nextPriceIndex(
  index: bigint,
  utilizationBps: number,
  rule: PriceIndexRule = defaultPriceIndexRule,
): bigint {
  const used = BigInt(Math.max(0, Math.min(10_000, Math.trunc(utilizationBps))));
  const target = BigInt(rule.targetBps);
  const delta = (index * (used - target)) / (target * BigInt(rule.maxChangeDenominator));
  const next = index + delta;
  return next < rule.minIndex ? rule.minIndex : next;
}

/**
 * One epoch's move, stopped at the asks of the book: the index rises no higher than the highest
 * active ask of its (class, region) and falls no lower than the lowest, unless it already stood
 * beyond that bound, where it stays. It still moves by at most 1 / maxChangeDenominator per epoch
 * and never crosses the rule's floor.
 *
 * Why the bounds: EIP-1559's base fee is paid, so a high fee lowers demand and the fee comes back.
 * Nobody pays this index, so nothing pulls it back: a region that stays full would compound 12.5 %
 * per epoch without limit, and an idle one would decay to a price nobody offers. Within the book
 * the index keeps its meaning — where between the cheapest and the dearest ask the region trades.
 *
 * @example
 * nextPriceIndexWithinAsks(900n, 10_000, 500n, 950n) // 950n: +12.5 % would be 1,012
 * nextPriceIndexWithinAsks(600n, 0, 550n, 950n)      // 550n: −12.5 % would be 525
 */
export function nextPriceIndexWithinAsks(
  index: bigint,
  utilizationBps: number,
  lowestAsk: bigint,
  highestAsk: bigint,
  rule: PriceIndexRule = defaultPriceIndexRule,
): bigint {
  const next = nextPriceIndex(index, utilizationBps, rule);
  if (next > index) {
    const ceiling = index > highestAsk ? index : highestAsk;
    return next < ceiling ? next : ceiling;
  }
  if (next < index) {
    const floor = index < lowestAsk ? index : lowestAsk;
    return next > floor ? next : floor;
  }
  return next;
}

/** Key of an index entry: `class|region`. */
export function priceIndexKey(resourceClass: string, region: string): string {
  return `${resourceClass}|${region}`;
}

/**
 * One epoch for every (class, region): entries without a utilization reading keep their index.
 * Returns entries sorted by key, so the published list has one order everywhere.
 */
export function updatePriceIndex(
  entries: readonly PriceIndexEntry[],
  utilizationBps: ReadonlyMap<string, number>,
  rule: PriceIndexRule = defaultPriceIndexRule,
): PriceIndexEntry[] {
  return entries
    .map((e) => {
      const u = utilizationBps.get(priceIndexKey(e.resourceClass, e.region));
      return u === undefined ? e : { ...e, index: nextPriceIndex(e.index, u, rule) };
    })
    .sort((a, b) => {
      const ka = priceIndexKey(a.resourceClass, a.region);
      const kb = priceIndexKey(b.resourceClass, b.region);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
}
