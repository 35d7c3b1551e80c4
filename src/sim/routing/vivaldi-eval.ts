/**
 * Evaluates Vivaldi coordinates on measured city-to-city RTTs: every node probes only `peers` fixed
 * neighbours (never all pairs), rounds of samples are applied in a seeded order, and the relative
 * error is measured on the pairs that no node ever probed. The built-in geographic model
 * (predictRttMs) is scored on the same held-out pairs in the same run.
 */
import {
  applySamples,
  geoPriorCoordinate,
  predictedRttMs,
  type RttSample,
} from "../../core/routing/vivaldi.ts";
import { type GeoPoint, predictRttMs } from "../../protocol/geo.ts";
import { SimRandom } from "../random.ts";

/** One undirected measured pair between nodes `a` and `b` (indices into `points`). */
export interface MeasuredRtt {
  readonly a: number;
  readonly b: number;
  readonly rttMs: number;
}

export interface VivaldiEvaluation {
  readonly nodes: number;
  readonly trainPairs: number;
  readonly testPairs: number;
  /** Relative error |predicted − measured| / measured on held-out pairs, quantile → value. */
  readonly vivaldi: { readonly q50: number; readonly q90: number; readonly mean: number };
  readonly geo: { readonly q50: number; readonly q90: number; readonly mean: number };
  /** Predict the RTT between two node indices with the trained coordinates. */
  readonly predict: (a: number, b: number) => number;
}

export interface VivaldiEvaluationOptions {
  /** Neighbours each node probes (Dabek et al. use 32; 8–16 here). */
  readonly peers: number;
  readonly rounds: number;
  readonly seed: number;
}

/**
 * Trains coordinates on each node's `peers` sampled neighbours (only pairs that were measured can be
 * neighbours: the data is a subset) and scores every other measured pair.
 */
export function evaluateVivaldi(
  points: readonly GeoPoint[],
  measured: readonly MeasuredRtt[],
  options: VivaldiEvaluationOptions,
): VivaldiEvaluation {
  const rng = new SimRandom(options.seed);
  const random = () => rng.nextU32() / 4294967296;
  const rtt = new Map<number, number>();
  const key = (a: number, b: number) => (a < b ? a * 65536 + b : b * 65536 + a);
  const measuredOf: number[][] = points.map(() => []);
  for (const m of measured) {
    rtt.set(key(m.a, m.b), m.rttMs);
    measuredOf[m.a]!.push(m.b);
    measuredOf[m.b]!.push(m.a);
  }
  const neighbours: number[][] = measuredOf.map((list) => {
    const copy = [...list].sort((x, y) => x - y);
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, options.peers);
  });
  const trained = new Set<number>();
  for (let i = 0; i < neighbours.length; i++) for (const j of neighbours[i]!) trained.add(key(i, j));

  let coordinates = points.map((p) => geoPriorCoordinate(p));
  for (let round = 0; round < options.rounds; round++) {
    const samples: RttSample[] = [];
    for (let i = 0; i < points.length; i++) {
      const list = neighbours[i]!;
      if (list.length === 0) continue;
      const j = list[Math.floor(random() * list.length)]!;
      samples.push({ from: i, to: j, rttMs: rtt.get(key(i, j))! });
    }
    coordinates = applySamples(coordinates, samples);
  }
  const vivaldiErrors: number[] = [];
  const geoErrors: number[] = [];
  for (const m of measured) {
    if (trained.has(key(m.a, m.b))) continue;
    vivaldiErrors.push(Math.abs(predictedRttMs(coordinates[m.a]!, coordinates[m.b]!) - m.rttMs) / m.rttMs);
    geoErrors.push(Math.abs(predictRttMs(points[m.a]!, points[m.b]!) - m.rttMs) / m.rttMs);
  }
  const final = coordinates;
  return {
    nodes: points.length,
    trainPairs: trained.size,
    testPairs: vivaldiErrors.length,
    vivaldi: summarize(vivaldiErrors),
    geo: summarize(geoErrors),
    predict: (a, b) => predictedRttMs(final[a]!, final[b]!),
  };
}

function summarize(values: number[]): { q50: number; q90: number; mean: number } {
  const sorted = [...values].sort((x, y) => x - y);
  return {
    q50: quantile(sorted, 0.5),
    q90: quantile(sorted, 0.9),
    mean: sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length),
  };
}

/** Linear interpolation between order statistics. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}
