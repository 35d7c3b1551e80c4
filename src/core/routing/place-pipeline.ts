/**
 * One entry point for every policy: `exact` runs the heuristic first and hands its placement to
 * branch and bound as the incumbent, so the exact objective is never above the heuristic's.
 */
import { placeExact } from "./exact.ts";
import type { CompiledPipeline } from "./network.ts";
import {
  explainPlacement,
  type PlacementResult,
  type Policy,
  type ProviderIndex,
  placeWithPolicy,
} from "./placement.ts";

/**
 * Places a compiled pipeline under `policy` against the providers' free units (`free`, indexed like
 * network.providers; not modified — the caller commits the assignment).
 *
 * @example
 * const c = compilePipeline(network, pipeline);
 * const r = placePipeline(c, buildProviderIndex(network), "market", freeUnits);
 * if (r.ok) for (const s of r.explanation) console.log(s.stage, s.provider, s.runnerUp?.decidedBy);
 */
export function placePipeline(
  c: CompiledPipeline,
  index: ProviderIndex,
  policy: Policy,
  free: ArrayLike<number>,
  maxExactNodes = 5_000_000,
): PlacementResult & { readonly proven?: boolean; readonly nodes?: number } {
  if (policy !== "exact") return placeWithPolicy(c, index, policy, free);
  const heuristic = placeWithPolicy(c, index, "market", free);
  const exact = placeExact(c, free, heuristic.ok ? heuristic.assignment : null, maxExactNodes);
  if (exact.assignment === null) {
    return heuristic.ok
      ? { ok: false, policy, stage: "", reason: "no feasible placement" }
      : { ...heuristic, policy };
  }
  return {
    ok: true,
    policy,
    assignment: exact.assignment,
    objective: exact.objective,
    explanation: explainPlacement(c, index, exact.assignment, free),
    proven: exact.proven,
    nodes: exact.nodes,
  };
}
