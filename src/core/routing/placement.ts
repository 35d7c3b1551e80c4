/**
 * Pipeline placement: the `market` heuristic (greedy in stage order, then local search until no
 * single stage can move to a cheaper provider), and the baselines a user has today, in the same code
 * so they are measured on the same inputs:
 *
 * - `single-region`: everything in one site — the one nearest the requester that can host every
 *   stage (one hyperscaler region); within it, the cheapest effective cost.
 * - `nearest`: each stage on the free provider nearest (by RTT) to where its largest input is.
 * - `price-only`: each stage on the provider with the lowest compute cost; latency and risk ignored.
 *
 * Jurisdiction, resource class, capacity and latency bounds are hard for every policy: a provider
 * that breaks one is never a candidate. Ties break by provider id (lower wins), so the same input
 * gives the same placement on every replica. Every placement explains itself: for each stage, the
 * chosen provider and the runner-up with the other stages held where they are, term by term.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { costDifference, costTerms, type EffectiveCost, timeValue } from "./effective-cost.ts";
import {
  type Assignment,
  admissible,
  type CompiledPipeline,
  edgeCost,
  objective,
  type Provider,
  type RoutingNetwork,
  siteTransferMs,
  unaryCost,
  violations,
} from "./network.ts";

export const policies = ["market", "exact", "single-region", "nearest", "price-only"] as const;
export type Policy = (typeof policies)[number];

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
function siteEdgeCost(c: CompiledPipeline, stage: number, site: number, sites: readonly number[]): number {
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

/** Why a stage went where it did, against the best alternative with every other stage held fixed. */
export interface StageExplanation {
  readonly stage: string;
  readonly provider: number;
  readonly cost: EffectiveCost;
  readonly runnerUp?: {
    readonly provider: number;
    readonly cost: EffectiveCost;
    /** runner-up − chosen, per term: the terms that separated them. */
    readonly difference: EffectiveCost;
    /** The term with the largest difference in the chosen provider's favour. */
    readonly decidedBy: (typeof costTerms)[number];
  };
}

export type PlacementResult =
  | {
      readonly ok: true;
      readonly policy: Policy;
      readonly assignment: Assignment;
      readonly objective: number;
      readonly explanation: readonly StageExplanation[];
    }
  | { readonly ok: false; readonly policy: Policy; readonly stage: string; readonly reason: string };

function useMap(c: CompiledPipeline, assignment: readonly number[], except: number): Map<number, number> {
  const use = new Map<number, number>();
  assignment.forEach((p, j) => {
    if (p >= 0 && j !== except) use.set(p, (use.get(p) ?? 0) + c.pipeline.stages[j]!.units);
  });
  return use;
}

/**
 * The `market` heuristic: each stage in order on its cheapest provider given the stages before it,
 * then passes of local search (each stage moves to its cheapest provider given all the others) until
 * a pass changes nothing or `maxPasses` is reached. Each move strictly lowers the objective, so it
 * terminates.
 */
export function placeMarket(
  c: CompiledPipeline,
  index: ProviderIndex,
  free: ArrayLike<number>,
  maxPasses = 4,
): PlacementResult {
  const n = c.pipeline.stages.length;
  const assignment: number[] = new Array(n).fill(-1);
  const sites: number[] = new Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const { best, runnerUp } = rankProviders(c, index, i, sites, free, useMap(c, assignment, i));
    if (best === null) {
      return {
        ok: false,
        policy: "market",
        stage: c.pipeline.stages[i]!.name,
        reason: "no eligible provider",
      };
    }
    if (n === 1) {
      // One stage has no edges: the greedy choice is the optimum and its ranking is the explanation.
      const explanation = [
        explainStage(c.pipeline.stages[0]!.name, best.provider, best.cost, best, runnerUp),
      ];
      return {
        ok: true,
        policy: "market",
        assignment: [best.provider],
        objective: best.cost.total,
        explanation,
      };
    }
    assignment[i] = best.provider;
    sites[i] = c.network.providers[best.provider]!.site;
  }
  singleMoves(c, index, assignment, sites, free, maxPasses);
  consolidate(c, index, assignment, sites, free, maxPasses);
  for (let round = 0; round < maxPasses; round++) {
    if (!pairMove(c, index, assignment, sites, free)) break;
    singleMoves(c, index, assignment, sites, free, maxPasses);
  }
  return finish(c, index, "market", assignment, free);
}

/** The free provider at `site` with the lowest own cost for `stage`, or −1. */
function cheapestAtSite(
  c: CompiledPipeline,
  index: ProviderIndex,
  stage: number,
  site: number,
  assignment: readonly number[],
  free: ArrayLike<number>,
): number {
  const s = c.pipeline.stages[stage]!;
  const use = useMap(c, assignment, stage);
  let chosen = -1;
  let chosenCost = 0;
  for (const b of index.byClass.get(s.resourceClass) ?? []) {
    if (b.site !== site) continue;
    for (const k of b.providers) {
      const p = c.network.providers[k]!;
      if (!admissible(c.network, s, p) || free[k]! - (use.get(k) ?? 0) < s.units) continue;
      const cost = unaryCost(c, stage, p).total;
      if (
        chosen < 0 ||
        cost < chosenCost ||
        (cost === chosenCost && p.id < c.network.providers[chosen]!.id)
      ) {
        chosen = k;
        chosenCost = cost;
      }
    }
  }
  return chosen;
}

/**
 * Consolidation: for every site, the placement with every stage that may run there moved there (each
 * on its cheapest free provider); the best of them, improved by local search, replaces the current
 * placement if it is better. A chain whose edges are heavy must move as a whole to gain, which no
 * move of one or two stages finds.
 */
function consolidate(
  c: CompiledPipeline,
  index: ProviderIndex,
  assignment: number[],
  sites: number[],
  free: ArrayLike<number>,
  maxPasses: number,
): void {
  const siteSet = new Set<number>();
  for (const s of c.pipeline.stages)
    for (const b of index.byClass.get(s.resourceClass) ?? []) siteSet.add(b.site);
  let bestStart: number[] | null = null;
  let bestStartObjective = Number.POSITIVE_INFINITY;
  for (const site of [...siteSet].sort((a, b) => a - b)) {
    const candidate = [...assignment];
    for (let i = 0; i < candidate.length; i++) {
      const chosen = cheapestAtSite(c, index, i, site, candidate, free);
      if (chosen >= 0) candidate[i] = chosen;
    }
    if (violations(c, candidate, (k) => free[k]!).length > 0) continue;
    const value = objective(c, candidate);
    if (value < bestStartObjective) {
      bestStartObjective = value;
      bestStart = candidate;
    }
  }
  if (bestStart === null) return;
  const startSites = bestStart.map((p) => c.network.providers[p]!.site);
  singleMoves(c, index, bestStart, startSites, free, maxPasses);
  if (objective(c, bestStart) < objective(c, assignment)) {
    for (let i = 0; i < assignment.length; i++) {
      assignment[i] = bestStart[i]!;
      sites[i] = startSites[i]!;
    }
  }
}

/** Passes of single-stage moves until none lowers the objective. */
function singleMoves(
  c: CompiledPipeline,
  index: ProviderIndex,
  assignment: number[],
  sites: number[],
  free: ArrayLike<number>,
  maxPasses: number,
): void {
  for (let pass = 0; pass < maxPasses; pass++) {
    let moved = false;
    for (let i = 0; i < assignment.length; i++) {
      const { best } = rankProviders(c, index, i, sites, free, useMap(c, assignment, i));
      if (best === null || best.provider === assignment[i]) continue;
      const current = marginal(c, i, assignment[i]!, sites);
      if (best.cost.total < current) {
        assignment[i] = best.provider;
        sites[i] = c.network.providers[best.provider]!.site;
        moved = true;
      }
    }
    if (!moved) return;
  }
}

/**
 * The best joint move of the two ends of one edge to one site (each end on its cheapest free
 * provider there), applied if it lowers the objective. Two stages joined by a heavy edge or a loop
 * often cannot move one at a time — the first to move pays the edge — but gain together.
 */
function pairMove(
  c: CompiledPipeline,
  index: ProviderIndex,
  assignment: number[],
  sites: number[],
  free: ArrayLike<number>,
): boolean {
  const stages = c.pipeline.stages;
  let bestObjective = objective(c, assignment);
  let bestMove: number[] | null = null;
  for (const e of c.edges) {
    for (const bucket of index.byClass.get(stages[e.a]!.resourceClass) ?? []) {
      const site = bucket.site;
      if (site === sites[e.a] && site === sites[e.b]) continue;
      const candidate = [...assignment];
      let ok = true;
      for (const stage of [e.a, e.b]) {
        const chosen = cheapestAtSite(c, index, stage, site, candidate, free);
        if (chosen < 0) ok = false;
        else candidate[stage] = chosen;
      }
      if (!ok || violations(c, candidate, (k) => free[k]!).length > 0) continue;
      const value = objective(c, candidate);
      if (value < bestObjective) {
        bestObjective = value;
        bestMove = candidate;
      }
    }
  }
  if (bestMove === null) return false;
  for (let i = 0; i < assignment.length; i++) {
    assignment[i] = bestMove[i]!;
    sites[i] = c.network.providers[bestMove[i]!]!.site;
  }
  return true;
}

function marginal(c: CompiledPipeline, stage: number, provider: number, sites: readonly number[]): number {
  const p = c.network.providers[provider]!;
  return unaryCost(c, stage, p).total + Math.max(0, siteEdgeCost(c, stage, p.site, sites));
}

/** Explains a complete assignment stage by stage. */
export function explainPlacement(
  c: CompiledPipeline,
  index: ProviderIndex,
  assignment: Assignment,
  free: ArrayLike<number>,
): StageExplanation[] {
  const sites = assignment.map((p) => c.network.providers[p]!.site);
  return c.pipeline.stages.map((s, i) => {
    const chosen = assignment[i]!;
    const p = c.network.providers[chosen]!;
    const unary = unaryCost(c, i, p);
    const edges = Math.max(0, siteEdgeCost(c, i, p.site, sites));
    const cost = { ...unary, delay: unary.delay + edges, total: unary.total + edges };
    const { best, runnerUp } = rankProviders(c, index, i, sites, free, useMap(c, assignment as number[], i));
    return explainStage(s.name, chosen, cost, best, runnerUp);
  });
}

function explainStage(
  stage: string,
  chosen: number,
  cost: EffectiveCost,
  best: Candidate | null,
  runnerUp: Candidate | null,
): StageExplanation {
  const other = best !== null && best.provider !== chosen ? best : runnerUp;
  if (other === null || other.provider === chosen) return { stage, provider: chosen, cost };
  const difference = costDifference(cost, other.cost);
  let decidedBy: (typeof costTerms)[number] = costTerms[0];
  for (const t of costTerms) if (difference[t] > difference[decidedBy]) decidedBy = t;
  return {
    stage,
    provider: chosen,
    cost,
    runnerUp: { provider: other.provider, cost: other.cost, difference, decidedBy },
  };
}

function finish(
  c: CompiledPipeline,
  index: ProviderIndex,
  policy: Policy,
  assignment: number[],
  free: ArrayLike<number>,
): PlacementResult {
  return {
    ok: true,
    policy,
    assignment,
    objective: objective(c, assignment),
    explanation: explainPlacement(c, index, assignment, free),
  };
}

/** Scan-based placement for the baselines: each stage in order, lowest `score`, ties by id. */
function placeByScore(
  c: CompiledPipeline,
  index: ProviderIndex,
  policy: Policy,
  free: ArrayLike<number>,
  allowedSite: (site: number) => boolean,
  score: (stage: number, provider: number, sites: readonly number[]) => number,
): PlacementResult {
  const n = c.pipeline.stages.length;
  const assignment: number[] = new Array(n).fill(-1);
  const sites: number[] = new Array(n).fill(-1);
  const providers = c.network.providers;
  for (let i = 0; i < n; i++) {
    const s = c.pipeline.stages[i]!;
    const use = useMap(c, assignment, i);
    let best = -1;
    let bestScore = 0;
    for (let k = 0; k < providers.length; k++) {
      const p = providers[k]!;
      if (!allowedSite(p.site) || !admissible(c.network, s, p)) continue;
      if (free[k]! - (use.get(k) ?? 0) < s.units) continue;
      if (siteEdgeCost(c, i, p.site, sites) < 0) continue;
      const v = score(i, k, sites);
      if (best < 0 || v < bestScore || (v === bestScore && p.id < providers[best]!.id)) {
        best = k;
        bestScore = v;
      }
    }
    if (best < 0) return { ok: false, policy, stage: s.name, reason: "no eligible provider" };
    assignment[i] = best;
    sites[i] = providers[best]!.site;
  }
  return finish(c, index, policy, assignment, free);
}

/** Where a stage's largest input comes from: a placed producer's site, or the data source. */
function inputSite(c: CompiledPipeline, stage: number, sites: readonly number[]): number {
  let site = c.pipeline.sourceSite;
  let bytes = c.sourceBytes[stage]!;
  for (const e of c.edges) {
    if (e.b === stage && e.loops === 0 && sites[e.a]! >= 0 && e.bytes > bytes) {
      site = sites[e.a]!;
      bytes = e.bytes;
    }
  }
  return site;
}

/** Places the pipeline under one of the baseline policies (or `market`). */
export function placeWithPolicy(
  c: CompiledPipeline,
  index: ProviderIndex,
  policy: Exclude<Policy, "exact">,
  free: ArrayLike<number>,
): PlacementResult {
  const providers = c.network.providers;
  switch (policy) {
    case "market":
      return placeMarket(c, index, free);
    case "price-only":
      return placeByScore(
        c,
        index,
        policy,
        free,
        () => true,
        (i, k) => unaryCost(c, i, providers[k]!).compute,
      );
    case "nearest":
      return placeByScore(
        c,
        index,
        policy,
        free,
        () => true,
        (i, k, sites) => {
          const from = inputSite(c, i, sites);
          const to = providers[k]!.site;
          return from === to ? 0 : c.network.rttMs(from, to);
        },
      );
    case "single-region": {
      const home = c.pipeline.homeSite;
      const order = c.network.sites
        .map((_, site) => site)
        .sort((a, b) => rttOrZero(c.network, home, a) - rttOrZero(c.network, home, b) || a - b);
      for (const site of order) {
        const r = placeByScore(
          c,
          index,
          policy,
          free,
          (x) => x === site,
          (i, k, sites) => {
            const p = providers[k]!;
            return unaryCost(c, i, p).total + Math.max(0, siteEdgeCost(c, i, p.site, sites));
          },
        );
        if (r.ok) return r;
      }
      return {
        ok: false,
        policy,
        stage: c.pipeline.stages[0]?.name ?? "",
        reason: "no site hosts every stage",
      };
    }
    default: {
      const never: never = policy;
      throw new Error(`unknown policy ${String(never)}`);
    }
  }
}

function rttOrZero(network: RoutingNetwork, a: number, b: number): number {
  return a === b ? 0 : network.rttMs(a, b);
}
