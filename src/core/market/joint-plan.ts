/**
 * The joint plan: which offer each not-yet-placed stage of a job should take so that the SUM of
 * their effective costs is lowest, where a stage's delay (inputs moved from its producers, loop
 * round trips to its partner) and its latency and loop bounds depend on where the other stages go.
 * The matcher (match.ts `findOffer`) ranks one stage at a time with its predecessors fixed; the plan
 * looks ahead, so a producer can take a dearer offer next to where its consumer must run.
 *
 * Eligibility and costs are the live matcher's own functions (`exclusion`, `standaloneCost`,
 * `stageDelay`, `withDelay`): what the plan adds is only the pairwise part — bounds to a planned
 * stage, replicas of one group on distinct providers, and the capacity the job's own stages take
 * from one offer. The search is plan-search.ts. The plan is part of the state (`job.plan`), made
 * when a stage of the job is about to be placed and its facts (`planBasis`) changed since the last
 * plan, so it replays identically and costs nothing on events that do not concern the job.
 */
import type { Job, JobPlan, NodeRecord, Offer, Stage, State } from "../state.ts";
import { groupProviders } from "../verification/replication-group.ts";
import { exclusion, proximityBounds } from "./match.ts";
import {
  liveRtt,
  type NodeOfStage,
  type NodeRtt,
  placedNodes,
  type StandaloneCost,
  stageDelay,
  standaloneCost,
  withDelay,
} from "./offer-cost.ts";
import { offersByPrice } from "./offer-index.ts";
import { type PlanProblem, searchPlan } from "./plan-search.ts";

/**
 * Branch-and-bound nodes per plan. Pipelines of a handful of stages need far fewer (the routing
 * benchmark's 2–5-stage pipelines over 300 providers average 12,752 with a weaker bound); beyond
 * it the plan is the local search's, so a 64-stage job costs a bounded amount once per re-plan.
 */
export const planNodeLimit = 20_000;

interface Candidate {
  readonly offer: Offer;
  readonly node: NodeRecord;
  readonly base: StandaloneCost;
  /** Effective cost with no delay: a lower bound of this candidate's cost in any plan. */
  readonly alone: number;
}

interface PlannedStage {
  readonly stage: Stage;
  readonly candidates: readonly Candidate[];
  /** Earlier planned stages this one must be within an RTT of (latency bound to a stage, loop). */
  readonly near: ReadonlyArray<{ readonly other: number; readonly maxRttMs: number }>;
  /** Earlier planned members of its replica group: never on the same provider. */
  readonly replicas: readonly number[];
}

/**
 * The facts about a job a plan depends on, besides the offer book: where each stage runs — a
 * pending stage counts as where `plan` puts it, so placing it as planned changes nothing — what
 * size of output it hands on, and who timed out on it or was barred from it. Offers taken or
 * withdrawn by others do not re-plan: the matcher falls back to the stage's own cheapest.
 *
 * Kept as a 32-bit FNV-1a digest: the state (and so every state hash) carries it for each job
 * being placed, and the full text is ~100 bytes per stage. Two different facts hashing alike would
 * only keep an older plan, which is still followed only while its offers are eligible.
 *
 * @example
 * const stale = job.plan !== undefined && job.plan.basis !== planBasis(state, job, job.plan);
 */
export function planBasis(state: State, job: Job, plan: JobPlan | undefined): number {
  let basis = "";
  for (const [name, s] of job.stages) {
    const planned = plan?.stages.get(name);
    const plannedProvider = planned === undefined ? "" : (state.offers.get(planned)?.provider ?? "gone");
    const where = s.status === "pending" ? plannedProvider : (s.provider ?? "?");
    const agreed = s.replication?.output;
    const handsOn = agreed === undefined || agreed === s.output ? (s.outputBytes ?? "") : "x";
    basis += `${name}:${where}:${handsOn}:${s.timedOut.length}:${s.barred?.length ?? 0};`;
  }
  return fnv1a(basis);
}

/** FNV-1a over the UTF-16 code units, 32 bits: cheap, exact integer arithmetic, the same everywhere. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The job's plan for its pending stages: the one in `job.plan` while the facts it assumed hold,
 * else a new one (kept in `job.plan`); undefined when fewer than two stages are pending.
 *
 * @example
 * const planned = currentPlan(state, job)?.stages.get(stage.spec.name);
 * const result = findOffer(state, job, stage, bounds, planned === undefined ? {} : { planned });
 */
export function currentPlan(state: State, job: Job): JobPlan | undefined {
  if (job.plan !== undefined && job.plan.basis === planBasis(state, job, job.plan)) return job.plan;
  const plan = planJob(state, job);
  if (plan === undefined) delete job.plan;
  else job.plan = plan;
  return plan;
}

/** Pending stages in an order where each follows the stages it runs after or is placed relative to. */
function placementOrder(job: Job): Stage[] | null {
  const order: Stage[] = [];
  const marks = new Map<string, "visiting" | "done">();
  const visit = (stage: Stage): boolean => {
    const name = stage.spec.name;
    const mark = marks.get(name);
    if (mark !== undefined) return mark === "done";
    marks.set(name, "visiting");
    const { after, latency, loop } = stage.spec;
    const refs = [...after, ...(latency !== undefined && "stage" in latency.to ? [latency.to.stage] : [])];
    if (loop !== undefined) refs.push(loop.with);
    for (const ref of refs) {
      const other = job.stages.get(ref);
      // A cycle through proximity references could never be placed stage by stage either.
      if (other?.status === "pending" && !visit(other)) return false;
    }
    marks.set(name, "done");
    order.push(stage);
    return true;
  };
  for (const stage of job.stages.values()) {
    if (stage.status === "pending" && !visit(stage)) return null;
  }
  return order;
}

/**
 * The eligible offers of one stage with the other planned stages left out, cheapest alone first.
 * Only the offers of its class (inside its jurisdiction, when it names exactly one) can be
 * eligible: they come from the matcher's index (offer-index.ts) by price then id, and the sort is
 * stable (ES2019), so ties go to the lower price, then the lower offer id.
 */
function candidatesOf(
  state: State,
  job: Job,
  stage: Stage,
  fixed: NodeOfStage,
  planSize: number,
): Candidate[] {
  const bounds = proximityBounds(state, job, stage, fixed, true)!;
  const replicaProviders = groupProviders(job, stage);
  const all: Candidate[] = [];
  const { resourceClass, jurisdictions } = stage.spec;
  const only = jurisdictions?.length === 1 ? jurisdictions[0] : undefined;
  for (const offer of offersByPrice(state, resourceClass, only)) {
    if (exclusion(state, offer, stage, job.requester, bounds, replicaProviders) !== null) continue;
    const base = standaloneCost(state, job, stage, offer);
    const alone = withDelay(base, { transferMs: 0, loopMs: 0 }).value;
    // Ranked last by the matcher (beyond any safe score): never part of a plan.
    if (alone === Number.MAX_SAFE_INTEGER) continue;
    all.push({ offer, node: state.nodes.get(offer.provider)!, base, alone });
  }
  all.sort((a, b) => a.alone - b.alone);
  // Offers on one node share every RTT: a plan of `planSize` stages uses at most that many of them
  // there, so the cheapest `planSize` per node (in stand-alone cost) hold an optimum.
  const perNode = new Map<string, number>();
  return all.filter((c) => {
    const seen = perNode.get(c.node.id) ?? 0;
    perNode.set(c.node.id, seen + 1);
    return seen < planSize;
  });
}

/**
 * RTTs between nodes, memoized for one plan: the search asks for the same pairs many times. Keyed
 * by the node objects themselves, which hash by identity (a key built from two 64-character ids
 * cost more than the prediction it saved).
 */
function memoizedRtt(): NodeRtt {
  const memo = new Map<NodeRecord, Map<NodeRecord, number>>();
  return (from, to) => {
    let row = memo.get(from);
    if (row === undefined) {
      row = new Map();
      memo.set(from, row);
    }
    let rtt = row.get(to);
    if (rtt === undefined) {
      rtt = liveRtt(from, to);
      row.set(to, rtt);
    }
    return rtt;
  };
}

/**
 * Plan the job's pending stages over the live state. Stages with no eligible offer now are left
 * out (they are matched stage by stage when supply appears); a plan with no feasible joint
 * assignment holds no offers. Undefined when fewer than two stages are pending.
 *
 * @example
 * const plan = planJob(state, job); // plan?.stages.get("prep") is the offer prep should take
 */
export function planJob(state: State, job: Job): JobPlan | undefined {
  let pendingCount = 0;
  for (const s of job.stages.values()) if (s.status === "pending") pendingCount++;
  if (pendingCount < 2) return undefined;
  const order = placementOrder(job);
  const empty: JobPlan = {
    basis: planBasis(state, job, undefined),
    stages: new Map(),
    total: 0,
    exact: false,
    nodes: 0,
  };
  if (order === null) return empty;
  const placed = placedNodes(state, job);
  const planned = new Set(order.map((s) => s.spec.name));
  const fixed: NodeOfStage = (name) => (planned.has(name) ? undefined : placed(name));
  const stages: PlannedStage[] = [];
  const index = new Map<string, number>();
  for (const stage of order) {
    const candidates = candidatesOf(state, job, stage, fixed, order.length);
    if (candidates.length === 0) continue;
    const near: Array<{ other: number; maxRttMs: number }> = [];
    const { latency, loop, name } = stage.spec;
    const latencyTo =
      latency !== undefined && "stage" in latency.to ? index.get(latency.to.stage) : undefined;
    if (latencyTo !== undefined) near.push({ other: latencyTo, maxRttMs: latency!.maxRttMs });
    const loopWith = loop === undefined ? undefined : index.get(loop.with);
    if (loopWith !== undefined) near.push({ other: loopWith, maxRttMs: loop!.maxRttMs });
    const group = stage.replication?.group;
    const replicas =
      group === undefined ? [] : stages.flatMap((p, i) => (p.stage.replication?.group === group ? [i] : []));
    index.set(name, stages.length);
    stages.push({ stage, candidates, near, replicas });
  }
  const result = searchPlan(problemOf(job, stages, placed), planNodeLimit);
  if (result.assign === null) return { ...empty, exact: result.exact, nodes: result.nodes };
  const chosen: JobPlan["stages"] = new Map();
  result.assign.forEach((c, i) => {
    chosen.set(stages[i]!.stage.spec.name, stages[i]!.candidates[c]!.offer.id);
  });
  const plan = { stages: chosen, total: result.total };
  return {
    basis: planBasis(state, job, { ...empty, ...plan }),
    ...plan,
    ...(result.greedyTotal === undefined ? {} : { greedyTotal: result.greedyTotal }),
    exact: result.exact,
    nodes: result.nodes,
  };
}

/** The planned stages as a search problem: the pairwise checks, and costs through `stageDelay`. */
function problemOf(job: Job, stages: readonly PlannedStage[], placed: NodeOfStage): PlanProblem {
  const rtt = memoizedRtt();
  const position = new Map(stages.map((p, i) => [p.stage.spec.name, i]));
  const nodeIn =
    (assign: readonly number[]): NodeOfStage =>
    (name) => {
      const i = position.get(name);
      if (i === undefined) return placed(name);
      const c = assign[i];
      return c === undefined ? undefined : stages[i]!.candidates[c]!.node;
    };
  return {
    alone: stages.map((p) => p.candidates.map((c) => c.alone)),
    feasible(i, c, assign) {
      const p = stages[i]!;
      const cand = p.candidates[c]!;
      for (const { other, maxRttMs } of p.near) {
        const there = stages[other]!.candidates[assign[other]!]!.node;
        if (rtt(cand.node, there) > maxRttMs) return false;
      }
      for (const r of p.replicas) {
        if (stages[r]!.candidates[assign[r]!]!.offer.provider === cand.offer.provider) return false;
      }
      // The job's earlier planned stages on the same offer take its free units first.
      let free = cand.offer.capacity - cand.offer.used - p.stage.spec.units;
      for (let j = 0; j < i && free >= 0; j++) {
        const q = stages[j]!;
        if (q.candidates[assign[j]!]!.offer === cand.offer) free -= q.stage.spec.units;
      }
      return free >= 0;
    },
    cost(i, c, assign) {
      const p = stages[i]!;
      const cand = p.candidates[c]!;
      return withDelay(cand.base, stageDelay(job, p.stage, cand.node, nodeIn(assign), rtt)).value;
    },
  };
}
