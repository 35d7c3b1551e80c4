/**
 * The exact optimum for small pipelines, by depth-first branch and bound over stages in order.
 *
 * Candidates: within one site every provider sees the same RTTs and bandwidth, so the edge terms of a
 * placement depend only on sites. A stage therefore needs, per site, only its `k` cheapest admissible
 * providers by own (unary) cost, where `k` is the number of stages of its class in the pipeline:
 * if an optimum used a worse one, at least one of those `k` is unused by the other k − 1 stages of the
 * class, fits (it was filtered on this stage's units) and swapping to it lowers the unary cost and
 * leaves every edge unchanged. This dominance rule keeps the search exact.
 *
 * Bound: cost of the placed stages (unary + edges among them) + Σ over unplaced stages of their
 * cheapest unary cost. Edges cost ≥ 0, so it never overestimates. The incumbent starts at the
 * heuristic's objective, so the search only has to prove it or find better.
 *
 * Pure and deterministic (candidates in a fixed order, ties to the lower provider id), so it may run
 * in the core. No LP package is needed at these sizes — see docs/routing.md for the measured node
 * counts; `maxNodes` caps the work, and `proven` says whether the cap was reached.
 */
import {
  type Assignment,
  admissible,
  type CompiledPipeline,
  edgeCost,
  objective,
  unaryCost,
} from "./network.ts";

export interface ExactResult {
  /** Null when no feasible placement exists. */
  readonly assignment: Assignment | null;
  readonly objective: number;
  /** Search nodes expanded. */
  readonly nodes: number;
  /** False when `maxNodes` stopped the search: the result is then the best found, not proven. */
  readonly proven: boolean;
}

/**
 * Minimum-objective placement respecting jurisdiction, class, capacity (`free`) and latency bounds.
 * `incumbent`, when given, must be feasible; it is returned if nothing better exists.
 */
export function placeExact(
  c: CompiledPipeline,
  free: ArrayLike<number>,
  incumbent: Assignment | null = null,
  maxNodes = 5_000_000,
): ExactResult {
  const stages = c.pipeline.stages;
  const n = stages.length;
  const providers = c.network.providers;
  const perClass = new Map<string, number>();
  for (const s of stages) perClass.set(s.resourceClass, (perClass.get(s.resourceClass) ?? 0) + 1);

  const candidates: Array<Array<{ provider: number; unary: number }>> = stages.map((s, i) => {
    const bySite = new Map<number, Array<{ provider: number; unary: number }>>();
    providers.forEach((p, k) => {
      if (!admissible(c.network, s, p) || free[k]! < s.units) return;
      const list = bySite.get(p.site) ?? [];
      list.push({ provider: k, unary: unaryCost(c, i, p).total });
      bySite.set(p.site, list);
    });
    const keep = perClass.get(s.resourceClass)!;
    const out: Array<{ provider: number; unary: number }> = [];
    for (const list of bySite.values()) {
      list.sort((a, b) => a.unary - b.unary || providers[a.provider]!.id - providers[b.provider]!.id);
      out.push(...list.slice(0, keep));
    }
    return out.sort((a, b) => a.unary - b.unary || providers[a.provider]!.id - providers[b.provider]!.id);
  });
  // Σ of the cheapest unary cost of stages i..n−1.
  const restBound = new Array<number>(n + 1).fill(0);
  for (let i = n - 1; i >= 0; i--) restBound[i] = restBound[i + 1]! + (candidates[i]![0]?.unary ?? 0);
  if (candidates.some((list) => list.length === 0)) {
    return { assignment: null, objective: Number.POSITIVE_INFINITY, nodes: 0, proven: true };
  }
  // Edges and bounds that close at stage i (their other end is earlier).
  const edgesAt = stages.map((_, i) => c.edges.filter((e) => Math.max(e.a, e.b) === i));
  const boundsAt = stages.map((_, i) => c.bounds.filter((b) => Math.max(b.a, b.b) === i));

  let best: number[] | null = incumbent === null ? null : [...incumbent];
  let bestCost = incumbent === null ? Number.POSITIVE_INFINITY : objective(c, incumbent);
  const assignment = new Array<number>(n).fill(-1);
  const sites = new Array<number>(n).fill(-1);
  const used = new Map<number, number>();
  let nodes = 0;
  let stopped = false;

  const search = (i: number, cost: number): void => {
    if (i === n) {
      const better =
        cost < bestCost || (cost === bestCost && best !== null && lexicallyLower(c, assignment, best));
      if (best === null || better) {
        best = [...assignment];
        bestCost = cost;
      }
      return;
    }
    for (const cand of candidates[i]!) {
      if (cost + cand.unary + restBound[i + 1]! > bestCost) break;
      if (++nodes > maxNodes) {
        stopped = true;
        return;
      }
      const p = providers[cand.provider]!;
      const u = used.get(cand.provider) ?? 0;
      if (u + stages[i]!.units > free[cand.provider]!) continue;
      let feasible = true;
      for (const b of boundsAt[i]!) {
        const other = sites[b.a === i ? b.b : b.a]!;
        if (other !== p.site && c.network.rttMs(p.site, other) > b.maxRttMs) feasible = false;
      }
      if (!feasible) continue;
      let edges = 0;
      for (const e of edgesAt[i]!) edges += edgeCost(c, e, sites[e.a === i ? e.b : e.a]!, p.site);
      const next = cost + cand.unary + edges;
      if (next + restBound[i + 1]! > bestCost) continue;
      assignment[i] = cand.provider;
      sites[i] = p.site;
      used.set(cand.provider, u + stages[i]!.units);
      search(i + 1, next);
      used.set(cand.provider, u);
      assignment[i] = -1;
      sites[i] = -1;
      if (stopped) return;
    }
  };
  search(0, 0);
  return { assignment: best, objective: bestCost, nodes, proven: !stopped };
}

/** Deterministic tie-break between equal-cost optima: lower provider ids, stage by stage. */
function lexicallyLower(c: CompiledPipeline, a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const ia = c.network.providers[a[i]!]!.id;
    const ib = c.network.providers[b[i]!]!.id;
    if (ia !== ib) return ia < ib;
  }
  return false;
}
