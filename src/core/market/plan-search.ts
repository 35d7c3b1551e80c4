/**
 * The search behind the joint plan (joint-plan.ts), over an abstract problem: stages in placement
 * order, each with candidates sorted by their stand-alone cost (a lower bound of what they cost in
 * any plan, since delays are never negative). Greedy in order, then single-stage local search, then
 * depth-first branch and bound seeded with that incumbent and bounded by a node limit: below the
 * limit the result is the proven optimum, above it the best found, never worse than greedy.
 *
 * Every check and cost looks only at stages *before* the one being placed (its producers, loop
 * partner, latency target and earlier replicas of its group come first in the order), so one
 * function serves the search, which fills stages left to right, and the evaluation of a full plan.
 * Scores are safe integers; the first plan found at the lowest total wins, and candidates are tried
 * in stand-alone-cost order with ties to the lower offer id, so the result is deterministic.
 */

/** A planning problem: stage i may take candidate c of `alone[i]`. */
export interface PlanProblem {
  /** Per stage, in placement order: each candidate's cost with no delay, ascending. */
  readonly alone: ReadonlyArray<readonly number[]>;
  /** Whether stage `i` may take candidate `c`, given the candidates `assign` holds for stages before `i`. */
  feasible(i: number, c: number, assign: readonly number[]): boolean;
  /** The cost of stage `i` on candidate `c`, given the candidates of the stages before `i`. */
  cost(i: number, c: number, assign: readonly number[]): number;
}

export interface PlanSearchResult {
  /** Candidate index per stage, or null when no assignment satisfies every constraint. */
  readonly assign: readonly number[] | null;
  readonly total: number;
  /** Total of the greedy assignment (each stage its cheapest given those before), if it was feasible. */
  readonly greedyTotal?: number;
  /** True when branch and bound finished within the node limit: `total` is the optimum. */
  readonly exact: boolean;
  /** Branch-and-bound nodes expanded. */
  readonly nodes: number;
}

/** Local search passes at most; each strictly lowers the total, so it also ends on its own. */
const maxLocalPasses = 4;

/**
 * Σ cost of a full assignment, or null if it breaks a constraint or leaves the safe-integer range.
 *
 * @example
 * planTotal(problem, [0, 1]); // stage 0 on its cheapest candidate, stage 1 on its second
 */
export function planTotal(problem: PlanProblem, assign: readonly number[]): number | null {
  let total = 0;
  for (let i = 0; i < assign.length; i++) {
    const c = assign[i]!;
    if (!problem.feasible(i, c, assign)) return null;
    total += problem.cost(i, c, assign);
    if (total > Number.MAX_SAFE_INTEGER) return null;
  }
  return total;
}

function greedy(problem: PlanProblem): number[] | null {
  const assign: number[] = [];
  for (let i = 0; i < problem.alone.length; i++) {
    const alone = problem.alone[i]!;
    let best = -1;
    let bestCost = Number.POSITIVE_INFINITY;
    for (let c = 0; c < alone.length && alone[c]! < bestCost; c++) {
      if (!problem.feasible(i, c, assign)) continue;
      const cost = problem.cost(i, c, assign);
      if (cost < bestCost) {
        best = c;
        bestCost = cost;
      }
    }
    if (best < 0) return null;
    assign.push(best);
  }
  return assign;
}

/**
 * Move one stage at a time to the first candidate (in stand-alone order) that lowers the plan's
 * total, until a pass changes nothing. A candidate is not evaluated once its stand-alone cost
 * reaches what the move could save at most: the stage's current cost and the others' delays.
 */
function localSearch(
  problem: PlanProblem,
  start: number[],
  startTotal: number,
): { assign: number[]; total: number } {
  const assign = start.slice();
  let total = startTotal;
  for (let pass = 0; pass < maxLocalPasses; pass++) {
    let moved = false;
    for (let i = 0; i < assign.length; i++) {
      const alone = problem.alone[i]!;
      const current = assign[i]!;
      // A move can at best save stage i's current cost and every other stage's delay.
      const reach = problem.cost(i, current, assign) + delaysOfOthers(problem, assign, i);
      for (let c = 0; c < alone.length; c++) {
        if (alone[c]! >= reach) break;
        if (c === current) continue;
        assign[i] = c;
        const t = planTotal(problem, assign);
        if (t !== null && t < total) {
          total = t;
          moved = true;
          break;
        }
        assign[i] = current;
      }
    }
    if (!moved) break;
  }
  return { assign, total };
}

/** What the stages other than `i` pay beyond their stand-alone cost: the most a move of `i` can save them. */
function delaysOfOthers(problem: PlanProblem, assign: readonly number[], i: number): number {
  let sum = 0;
  for (let j = 0; j < assign.length; j++) {
    if (j !== i) sum += problem.cost(j, assign[j]!, assign) - problem.alone[j]![assign[j]!]!;
  }
  return sum;
}

/**
 * Plan every stage: greedy, local search, then branch and bound within `nodeLimit` nodes.
 *
 * @example
 * const result = searchPlan({ alone: [[5, 7], [1]], feasible: () => true, cost: (i, c) => [[5, 7], [1]][i]![c]! }, 1000);
 * // result.assign = [0, 0], result.total = 6, result.exact = true
 */
export function searchPlan(problem: PlanProblem, nodeLimit: number): PlanSearchResult {
  const n = problem.alone.length;
  const seed = greedy(problem);
  const greedyTotal = seed === null ? null : planTotal(problem, seed);
  let best: number[] | null = null;
  let bestTotal = Number.POSITIVE_INFINITY;
  if (seed !== null && greedyTotal !== null) {
    const improved = localSearch(problem, seed, greedyTotal);
    best = improved.assign;
    bestTotal = improved.total;
  }
  // restBound[i]: the cheapest the stages from i on can possibly cost.
  const restBound = new Array<number>(n + 1).fill(0);
  for (let i = n - 1; i >= 0; i--)
    restBound[i] = restBound[i + 1]! + (problem.alone[i]![0] ?? Number.POSITIVE_INFINITY);
  const assign: number[] = [];
  let nodes = 0;
  let complete = true;
  const visit = (i: number, acc: number): void => {
    if (i === n) {
      if (acc < bestTotal) {
        bestTotal = acc;
        best = assign.slice();
      }
      return;
    }
    const alone = problem.alone[i]!;
    for (let c = 0; c < alone.length; c++) {
      // Candidates are in stand-alone order: once one cannot beat the incumbent, none after it can.
      if (acc + alone[c]! + restBound[i + 1]! >= bestTotal) return;
      if (nodes >= nodeLimit) {
        complete = false;
        return;
      }
      if (!problem.feasible(i, c, assign)) continue;
      nodes++;
      const next = acc + problem.cost(i, c, assign);
      if (next > Number.MAX_SAFE_INTEGER || next + restBound[i + 1]! >= bestTotal) continue;
      assign.push(c);
      visit(i + 1, next);
      assign.pop();
    }
  };
  visit(0, 0);
  return {
    assign: best,
    total: best === null ? 0 : bestTotal,
    ...(greedyTotal === null ? {} : { greedyTotal }),
    exact: complete,
    nodes,
  };
}
