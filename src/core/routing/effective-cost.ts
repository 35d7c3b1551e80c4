/**
 * The effective cost of running one stage on one provider (DESIGN.md §4 "Market"), in integer
 * micro-credits, with every term returned separately so a placement can explain itself:
 *
 *   compute      = price × units × duration                    (what the provider is paid)
 *   time         = valueOfTime × execution duration            (the requester waits for it)
 *   delay        = valueOfTime × (queue + transfer + loop)     (waiting that is not computing)
 *                  transfer = Σ inputs (RTT + bytes / bandwidth), loop = iterations × RTT
 *   risk         = P(failure) × cost of redoing (compute + time)
 *   verification = verification rate × compute                 (a verifier re-executes that share)
 *   total        = compute + time + delay + risk + verification
 *
 * Scores are safe integers (`number`), not bigints: they rank candidates in the hot loop of the
 * placer, where bigint arithmetic costs an allocation per operation, and they never move money (the
 * ledger does, in bigint, at the matched price). Every division is a floor of exact integer operands
 * below 2^53, so the results are identical bits on every engine; `effectiveCost` checks the bound.
 */

/** Basis points: 10,000 = 100 %. */
export const bps = 10_000;

export interface EffectiveCostInput {
  /** Asking price, micro-credits per unit-second. */
  readonly pricePerUnitSecond: number;
  readonly units: number;
  /** Expected execution time on this provider, ms (the stage's work over the provider's throughput). */
  readonly durationMs: number;
  /** What an hour of waiting costs the requester, as micro-credits per second. */
  readonly valueOfTimePerSecond: number;
  /** Expected wait before the stage starts on this provider, ms. */
  readonly queueMs: number;
  /** Moving the inputs here: RTT and transfer time summed over inputs, ms (see `transferMs`). */
  readonly transferMs: number;
  /** Loop round trips × RTT to the loop partner, ms. */
  readonly loopMs: number;
  /** Probability that the attempt fails or is caught cheating, bps (from reputation). */
  readonly failureBps: number;
  /** Share of the work a verifier re-executes, bps (spot-check rate, or (k−1)×10,000 for replicate:k). */
  readonly verificationBps: number;
}

export interface EffectiveCost {
  readonly compute: number;
  readonly time: number;
  readonly delay: number;
  readonly risk: number;
  readonly verification: number;
  readonly total: number;
}

export const costTerms = ["compute", "time", "delay", "risk", "verification"] as const;
export type CostTerm = (typeof costTerms)[number];

/**
 * Uplink assumed for a node that did not report one (`registerNode.bytesPerSecond`), bytes per
 * second: 1 Gbit/s. The routing benchmark gives its sites 0.25, 1 or 4 Gbit/s with equal
 * probability (src/sim/routing/scenario.ts), so this is the middle of what the placement results
 * were measured under, and the live matcher prices an unreported link the way the benchmarks do. It
 * neither rewards a node for keeping quiet about a slow link (as the fastest would) nor punishes a
 * fast one that has not measured yet (as the slowest would).
 */
export const defaultUplinkBytesPerSecond = 125_000_000;

/** ms spent moving `bytes` over a path with `rttMs` and `bytesPerSecond`: one RTT plus serialization. */
export function transferMs(bytes: number, rttMs: number, bytesPerSecond: number): number {
  if (bytes <= 0) return 0;
  return Math.round(rttMs) + Math.floor((bytes * 1000) / Math.max(1, bytesPerSecond));
}

/** valueOfTime (µ/s) × ms, floored to whole micro-credits. */
export function timeValue(valueOfTimePerSecond: number, ms: number): number {
  return Math.floor((valueOfTimePerSecond * Math.round(ms)) / 1000);
}

/**
 * The effective cost of a stage on a provider, term by term.
 *
 * @throws RangeError when a term leaves the safe-integer range (inputs beyond any real job).
 * @example
 * effectiveCost({ pricePerUnitSecond: 500, units: 1, durationMs: 60_000, valueOfTimePerSecond: 100,
 *   queueMs: 0, transferMs: 200, loopMs: 0, failureBps: 100, verificationBps: 1000 }).total
 */
export function effectiveCost(input: EffectiveCostInput): EffectiveCost {
  const compute = Math.floor((input.pricePerUnitSecond * input.units * Math.round(input.durationMs)) / 1000);
  const time = timeValue(input.valueOfTimePerSecond, input.durationMs);
  const delay = timeValue(input.valueOfTimePerSecond, input.queueMs + input.transferMs + input.loopMs);
  const risk = Math.floor(((compute + time) * input.failureBps) / bps);
  const verification = Math.floor((compute * input.verificationBps) / bps);
  const total = compute + time + delay + risk + verification;
  if (!Number.isSafeInteger(total) || !Number.isSafeInteger(compute * bps + time * bps)) {
    throw new RangeError(`effective cost out of the safe-integer range: ${total}`);
  }
  return { compute, time, delay, risk, verification, total };
}

/** Term-by-term difference `b − a`: how far the runner-up was behind, and why. */
export function costDifference(a: EffectiveCost, b: EffectiveCost): EffectiveCost {
  return {
    compute: b.compute - a.compute,
    time: b.time - a.time,
    delay: b.delay - a.delay,
    risk: b.risk - a.risk,
    verification: b.verification - a.verification,
    total: b.total - a.total,
  };
}
