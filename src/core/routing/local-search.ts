/**
 * Improvement moves of the `market` heuristic after the greedy pass: single-stage moves, joint moves
 * of an edge's two ends, and consolidation at one site. Every accepted move strictly lowers the
 * objective, so the search terminates.
 */
import { admissible, type CompiledPipeline, objective, unaryCost, violations } from "./network.ts";
import { type ProviderIndex, rankProviders, siteEdgeCost, useMap } from "./provider-index.ts";

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
export function consolidate(
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
export function singleMoves(
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
export function pairMove(
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

export function marginal(
  c: CompiledPipeline,
  stage: number,
  provider: number,
  sites: readonly number[],
): number {
  const p = c.network.providers[provider]!;
  return unaryCost(c, stage, p).total + Math.max(0, siteEdgeCost(c, stage, p.site, sites));
}
