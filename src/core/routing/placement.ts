/**
 * Pipeline placement: the `market` heuristic (greedy in stage order over the provider index of
 * provider-index.ts, then the improvement moves of local-search.ts), and the baselines a user has
 * today, in the same code so they are measured on the same inputs:
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
import { costDifference, costTerms, type EffectiveCost } from "./effective-cost.ts";
import { consolidate, pairMove, singleMoves } from "./local-search.ts";
import {
  type Assignment,
  admissible,
  type CompiledPipeline,
  objective,
  type RoutingNetwork,
  unaryCost,
} from "./network.ts";
import { type Candidate, type ProviderIndex, rankProviders, siteEdgeCost, useMap } from "./provider-index.ts";

export { buildProviderIndex, type Candidate, type ProviderIndex, rankProviders } from "./provider-index.ts";

export const policies = ["market", "exact", "single-region", "nearest", "price-only"] as const;
export type Policy = (typeof policies)[number];

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
