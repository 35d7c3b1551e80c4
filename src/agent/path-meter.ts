/**
 * What an agent learned about its paths from the transfers it made (docs/routing.md "Sealed outputs
 * and relayed inputs"): the throughput each path delivered, end to end, as an exponentially weighted
 * average. The coordinator's predictions come from network coordinates and declared uplinks, which
 * are metric — a relayed path, the sum of two hops, is never predicted faster than the direct one.
 * Real paths are not metric (congested links, bad peering: the premise of resilient overlay
 * routing, Andersen et al., SOSP 2001), so once a path has been measured its measurement replaces
 * the model for it, and a relay that measured faster than a congested direct path is chosen first.
 */
import type { Hop } from "../core/routing/relay-path.ts";

/**
 * Transfers smaller than this are all round trips and say nothing about throughput: not recorded.
 * Above it a measurement still includes the round trips of its requests, which is why it predicts
 * a path end to end (`measuredHops`) rather than being read as a bandwidth.
 */
export const minMeasuredBytes = 4 * 1024;

/** Weight of the newest measurement in the average (the rest is the history's). */
const newestWeight = 0.5;

export interface PathMeter {
  /** Record a transfer of `bytes` that took `ms` over `path`. Ignored below {@link minMeasuredBytes}. */
  record(path: string, bytes: number, ms: number): void;
  /** Measured throughput of `path`, bytes per second, or undefined if never measured. */
  bytesPerSecond(path: string): number | undefined;
}

/** The meter's name for the direct path from `producer`, or for the path through `relay`. */
export function pathName(producer: string, relay?: string): string {
  return relay === undefined ? `direct ${producer}` : `relay ${relay} from ${producer}`;
}

/**
 * An empty meter.
 *
 * @example
 * const meter = pathMeter();
 * meter.record(pathName(fra), 4_000_000, 4_100); // ≈ 0.98 MB/s
 * measuredHops(meter.bytesPerSecond(pathName(fra))!, 1) // one hop at that rate, no separate RTT
 */
export function pathMeter(): PathMeter {
  const rates = new Map<string, number>();
  return {
    record(path, bytes, ms) {
      if (bytes < minMeasuredBytes || !(ms > 0)) return;
      const rate = (bytes * 1000) / ms;
      const before = rates.get(path);
      rates.set(path, before === undefined ? rate : newestWeight * rate + (1 - newestWeight) * before);
    },
    bytesPerSecond: (path) => rates.get(path),
  };
}

/**
 * Hops that reproduce a measured end-to-end rate for `choosePath`: the measurement already includes
 * the round trips, so each hop has RTT 0, and a relayed path's two hops share the time equally.
 *
 * @example measuredHops(1_000_000, 2) // two hops at 2,000,000 B/s: 1 MB takes 1 s end to end
 */
export function measuredHops(bytesPerSecond: number, hops: 1 | 2): Hop[] {
  const each = Math.max(1, Math.floor(bytesPerSecond * hops));
  return Array.from({ length: hops }, () => ({ rttMs: 0, bytesPerSecond: each }));
}
