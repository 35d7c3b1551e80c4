/**
 * The candidate search of the `market` placer: an index of providers built once per book, and the
 * ranking of the best two providers for one stage given where the other stages are.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { type EffectiveCost, timeValue } from "./effective-cost.ts";
import {
  type CompiledPipeline,
  edgeCost,
  type Provider,
  type RoutingNetwork,
  siteTransferMs,
  unaryCost,
} from "./network.ts";

/**
 * Providers by resource class, then by (site, throughput band), each list sorted by price per unit
 * of work. A stage's cost on a provider is roughly work / throughput × (price × units + value of
 * time), so within one band (throughputs within a factor 1.25) the price-per-work order is close to
 * the cost order and the scan of a list stops after a few providers; across bands it is not, which
 * is why bands are separate lists.
 */
export interface ProviderIndex {
  readonly byClass: ReadonlyMap<string, readonly SiteBucket[]>;
}

interface SiteBucket {
  readonly site: number;
  /** Provider indices, ascending price / throughput, then id. */
  readonly providers: readonly number[];
  readonly maxThroughput: number;
}

/** Throughput band: the number of factors 1.25 above 1/64 (multiplications only: deterministic). */
function throughputBand(throughput: number): number {
  let band = 0;
  for (let edge = 1 / 64; edge * 1.25 <= throughput && band < 64; edge *= 1.25) band++;
  return band;
}

/** Builds the index once per network (O(n log n)); placement then skips whole lists and tails. */
export function buildProviderIndex(network: RoutingNetwork): ProviderIndex {
  const groups = new Map<string, Map<number, number[]>>();
  network.providers.forEach((p, i) => {
    const bySite = groups.get(p.resourceClass) ?? new Map<number, number[]>();
    groups.set(p.resourceClass, bySite);
    const key = p.site * 128 + throughputBand(p.throughput);
    const list = bySite.get(key) ?? [];
    list.push(i);
    bySite.set(key, list);
  });
  const byClass = new Map<string, SiteBucket[]>();
  const ps = network.providers;
  for (const cls of [...groups.keys()].sort()) {
    const buckets: SiteBucket[] = [];
    for (const [key, list] of [...groups.get(cls)!].sort((a, b) => a[0] - b[0])) {
      list.sort((a, b) => {
        const ka = ps[a]!.pricePerUnitSecond * ps[b]!.throughput;
        const kb = ps[b]!.pricePerUnitSecond * ps[a]!.throughput;
        return ka - kb || ps[a]!.id - ps[b]!.id;
      });
      buckets.push({
        site: Math.floor(key / 128),
        providers: list,
        maxThroughput: Math.max(...list.map((i) => ps[i]!.throughput)),
      });
    }
    byClass.set(cls, buckets);
  }
  return { byClass };
}

/** A candidate's cost for one stage, with the edges to placed stages folded into `delay`. */
export interface Candidate {
  readonly provider: number;
  readonly cost: EffectiveCost;
}

/**
 * The best two providers for `stage` given where the other placed stages are (`sites[j]`, −1 when
 * unplaced) and the units still free (`free`, with this pipeline's own use in `pipelineUse`).
 */
export function rankProviders(
  c: CompiledPipeline,
  index: ProviderIndex,
  stage: number,
  sites: readonly number[],
  free: ArrayLike<number>,
  pipelineUse: ReadonlyMap<number, number>,
): { best: Candidate | null; runnerUp: Candidate | null } {
  const s = c.pipeline.stages[stage]!;
  const network = c.network;
  const vot = c.pipeline.valueOfTimePerSecond;
  let best: Candidate | null = null;
  let second: Candidate | null = null;
  const better = (x: Candidate, y: Candidate | null) =>
    y === null ||
    x.cost.total < y.cost.total ||
    (x.cost.total === y.cost.total && network.providers[x.provider]!.id < network.providers[y.provider]!.id);
  const verificationFactor = 1 + s.verificationBps / 10_000;
  const computeBound = (p: Provider) =>
    Math.floor((p.pricePerUnitSecond * s.units * ((s.work * 1000) / p.throughput - 0.5)) / 1000) - 1;
  // Each list gets a lower bound (its site's delay terms, which every provider there shares, plus
  // the cheapest compute and execution time in it); lists are scanned in bound order and the scan
  // stops at the first list whose bound exceeds the runner-up so far.
  const buckets = index.byClass.get(s.resourceClass) ?? [];
  // Per site: the edge costs to placed stages (−1: excluded by jurisdiction or a latency bound) and
  // the ms to move the source input there; every provider at a site shares them.
  const siteEdges = new Float64Array(network.sites.length).fill(Number.NaN);
  const siteSourceMs = new Float64Array(network.sites.length);
  let scale = 1024;
  while (scale < buckets.length) scale *= 2;
  // (floored bound) × scale + list number, sorted natively: the bound order with a deterministic tie.
  const keys = new Float64Array(buckets.length);
  let count = 0;
  for (let b = 0; b < buckets.length; b++) {
    const bucket = buckets[b]!;
    const site = bucket.site;
    if (Number.isNaN(siteEdges[site]!)) {
      const held = network.sites[site]!.jurisdictions;
      if (s.jurisdictions !== undefined && !s.jurisdictions.some((j) => held.includes(j)))
        siteEdges[site] = -1;
      else {
        siteEdges[site] = siteEdgeCost(c, stage, site, sites);
        siteSourceMs[site] = siteTransferMs(network, c.sourceBytes[stage]!, c.pipeline.sourceSite, site);
      }
    }
    const edges = siteEdges[site]!;
    if (edges < 0) continue;
    const timeBound = timeValue(vot, (s.work * 1000) / bucket.maxThroughput - 0.5);
    const first = network.providers[bucket.providers[0]!]!;
    const bound =
      computeBound(first) * verificationFactor + timeBound + edges + timeValue(vot, siteSourceMs[site]!);
    keys[count++] = Math.floor(bound) * scale + b;
  }
  const order = keys.subarray(0, count).sort();
  let secondTotal = Number.POSITIVE_INFINITY;
  for (const key of order) {
    const bound = Math.floor(key / scale);
    if (bound > secondTotal) break;
    const bucket = buckets[key - bound * scale]!;
    const edges = siteEdges[bucket.site]!;
    const sourceMs = siteSourceMs[bucket.site]!;
    const fixed =
      timeValue(vot, (s.work * 1000) / bucket.maxThroughput - 0.5) + edges + timeValue(vot, sourceMs);
    for (const i of bucket.providers) {
      const p = network.providers[i]!;
      if (computeBound(p) * verificationFactor + fixed > secondTotal) break;
      if (p.capacity < s.units || free[i]! - (pipelineUse.get(i) ?? 0) < s.units) continue;
      // The effective cost's total, inline and allocation-free (effective-cost.ts, same floors);
      // the full term-by-term cost is built only for the two best.
      const duration = Math.round((s.work * 1000) / p.throughput);
      const compute = Math.floor((p.pricePerUnitSecond * s.units * duration) / 1000);
      const time = Math.floor((vot * duration) / 1000);
      const delay = Math.floor((vot * Math.round(p.queueMs + sourceMs)) / 1000);
      const risk = Math.floor(((compute + time) * p.failureBps) / 10_000);
      const verification = Math.floor((compute * s.verificationBps) / 10_000);
      const total = compute + time + delay + risk + verification + edges;
      if (total > secondTotal || (total === secondTotal && p.id > network.providers[second!.provider]!.id))
        continue;
      const unary = unaryCost(c, stage, p);
      if (unary.total + edges !== total) {
        throw new SwitchyardError(
          "INVARIANT_VIOLATED",
          `inline cost ${total} ≠ effective cost ${unary.total + edges}`,
        );
      }
      const cand: Candidate = {
        provider: i,
        cost: { ...unary, delay: unary.delay + edges, total },
      };
      if (better(cand, best)) {
        second = best;
        best = cand;
      } else {
        second = cand;
      }
      if (second !== null) secondTotal = second.cost.total;
    }
  }
  return { best, runnerUp: second };
}

/** Σ edge costs from `site` to the placed neighbours of `stage`; −1 when a latency bound breaks. */
export function siteEdgeCost(
  c: CompiledPipeline,
  stage: number,
  site: number,
  sites: readonly number[],
): number {
  for (const b of c.bounds) {
    const other = b.a === stage ? b.b : b.b === stage ? b.a : -1;
    if (other < 0 || sites[other]! < 0 || sites[other] === site) continue;
    if (c.network.rttMs(site, sites[other]!) > b.maxRttMs) return -1;
  }
  let total = 0;
  for (const e of c.edges) {
    const other = e.a === stage ? e.b : e.b === stage ? e.a : -1;
    if (other < 0 || sites[other]! < 0) continue;
    total += edgeCost(c, e, site, sites[other]!);
  }
  return total;
}

/** Units each provider holds for this pipeline's stages other than `except`. */
export function useMap(
  c: CompiledPipeline,
  assignment: readonly number[],
  except: number,
): Map<number, number> {
  const use = new Map<number, number>();
  assignment.forEach((p, j) => {
    if (p >= 0 && j !== except) use.set(p, (use.get(p) ?? 0) + c.pipeline.stages[j]!.units);
  });
  return use;
}
