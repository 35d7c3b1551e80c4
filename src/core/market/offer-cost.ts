/**
 * What an offer costs a stage, term by term (routing/effective-cost.ts, DESIGN.md §4), split so the
 * joint planner (joint-plan.ts) can ask it about stages that are not placed yet: the part that
 * depends on the offer alone (`standaloneCost`) and the delay given where the other stages run
 * (`stageDelay`), put together by `withDelay`. The live matcher (match.ts) uses the same pieces with
 * every other stage where it is placed (`offerCost`).
 */
import { staked } from "../ledger/accounts.ts";
import { balanceOf } from "../ledger/ledger.ts";
import { emptyReputation, failurePpm, reputationKey, riskPpm } from "../reputation/reputation.ts";
import {
  defaultUplinkBytesPerSecond,
  type EffectiveCostInput,
  effectiveCost,
  transferMs,
} from "../routing/effective-cost.ts";
import { predictRtt, type RttEndpoint } from "../routing/node-rtt.ts";
import type { CostBreakdown, Job, NodeRecord, Offer, Stage, State } from "../state.ts";
import { spotCheckRate } from "../verification/policy.ts";

/** A node as an RTT endpoint: its place, and its live network coordinate once it reported one. */
export function rttEndpointOf(node: NodeRecord): RttEndpoint {
  return { latE6: node.latE6, lonE6: node.lonE6, coordinate: node.coordinate };
}

/**
 * Where the stages of a job run: the node of each placed stage, or — for the joint planner — the
 * node a not-yet-placed stage would run on; undefined when unknown.
 */
export type NodeOfStage = (name: string) => NodeRecord | undefined;

/**
 * The nodes of a job's placed stages.
 *
 * @example
 * const producer = placedNodes(state, job)("prep"); // undefined until prep is placed
 */
export function placedNodes(state: State, job: Job): NodeOfStage {
  return (name) => {
    const provider = job.stages.get(name)?.provider;
    return provider === undefined ? undefined : state.nodes.get(provider);
  };
}

/** A node's uplink: what it reported at registration, or the benchmarks' middle uplink. */
function uplinkOf(node: NodeRecord): number {
  return node.bytesPerSecond ?? defaultUplinkBytesPerSecond;
}

/**
 * The size of what a dependency hands on, when its provider declared it: its committed output's
 * `outputBytes`, unless a replica group agreed on another output than this member's.
 */
function handedOnBytes(dep: Stage): number | undefined {
  const agreed = dep.replication?.output;
  return agreed === undefined || agreed === dep.output ? dep.outputBytes : undefined;
}

/** Predicted RTT from one node to another, ms. */
export type NodeRtt = (from: NodeRecord, to: NodeRecord) => number;

/** RTTs from the nodes' live network coordinates, geography until both reported one. */
export const liveRtt: NodeRtt = (from, to) => predictRtt(rttEndpointOf(from), rttEndpointOf(to)).rttMs;

/** The waiting a provider on `node` implies for a stage, ms, by cause. */
export interface StageDelay {
  readonly transferMs: number;
  readonly loopMs: number;
}

/**
 * The delay `node` implies for `stage`, given where the other stages run (`nodeOf`). Transfer:
 * moving the outputs of the stages it runs after to `node` — per input from another node, one RTT
 * plus its declared bytes at the slower of the two uplinks (`transferMs`), or one RTT alone while
 * its size is unknown; nothing for an input produced on `node` itself. Loop: `iterations` round
 * trips to the partner.
 *
 * @example
 * const { transferMs, loopMs } = stageDelay(job, stage, node, placedNodes(state, job), liveRtt);
 */
export function stageDelay(
  job: Job,
  stage: Stage,
  node: NodeRecord,
  nodeOf: NodeOfStage,
  rtt: NodeRtt,
): StageDelay {
  let transfer = 0;
  for (const name of stage.spec.after) {
    const dep = job.stages.get(name);
    const producer = nodeOf(name);
    if (dep === undefined || producer === undefined || producer.id === node.id) continue;
    const rttMs = rtt(producer, node);
    const bytes = handedOnBytes(dep);
    transfer +=
      bytes === undefined ? rttMs : transferMs(bytes, rttMs, Math.min(uplinkOf(producer), uplinkOf(node)));
  }
  let loop = 0;
  const spec = stage.spec.loop;
  const partner = spec === undefined ? undefined : nodeOf(spec.with);
  if (spec !== undefined && partner !== undefined) loop = spec.iterations * rtt(node, partner);
  return { transferMs: transfer, loopMs: loop };
}

/** An offer's effective cost for a stage: the ranking value (its total) and the terms. */
export interface RankedCost {
  readonly value: number;
  readonly failurePpm: number;
  readonly cost: CostBreakdown;
}

/**
 * What an offer costs a stage apart from the delay, which depends on where the other stages run:
 * the effective-cost input with zero transfer and loop, or null for a price beyond any safe score.
 */
export interface StandaloneCost {
  readonly input: EffectiveCostInput | null;
  readonly failurePpm: number;
}

/**
 * The delay-free part of an offer's effective cost (routing/effective-cost.ts, DESIGN.md §4):
 * price × duration, the requester's value of time for the run, the risk premium from reputation
 * (P(failure) × the cost of redoing the work) and the expected verifier fee.
 *
 * @example
 * const alone = withDelay(standaloneCost(state, job, stage, offer), { transferMs: 0, loopMs: 0 });
 */
export function standaloneCost(state: State, job: Job, stage: Stage, offer: Offer): StandaloneCost {
  const spec = stage.spec;
  const record = state.reputation.get(reputationKey(offer.provider, spec.program)) ?? emptyReputation;
  const failure = failurePpm(record);
  let verificationBps = 0;
  if (spec.verification === "spot") {
    const p = state.params;
    const payment = offer.pricePerUnitSecond * BigInt(spec.units) * BigInt(spec.seconds);
    const rate = spotCheckRate(
      {
        paymentMicro: payment,
        stakeMicro: balanceOf(state, staked(offer.provider)),
        slashBps: p.fraudSlashBps,
        cheatGainMicro: payment,
        verifierFeeMicro: (payment * BigInt(p.verifierFeeBps)) / 10_000n,
        riskPpm: riskPpm(record),
      },
      { floorPpm: p.spotFloorPpm, marginPpm: p.spotMarginPpm, newcomerPpm: p.spotNewcomerPpm },
    );
    verificationBps = Math.floor((rate.ppm * p.verifierFeeBps) / 1_000_000);
  }
  const price = offer.pricePerUnitSecond;
  // Beyond any real price: ranked last rather than lose precision.
  if (price > BigInt(Number.MAX_SAFE_INTEGER)) return { input: null, failurePpm: failure };
  return {
    failurePpm: failure,
    input: {
      pricePerUnitSecond: Number(price),
      units: spec.units,
      durationMs: spec.seconds * 1000,
      valueOfTimePerSecond: job.valueOfTimePerSecond ?? 0,
      queueMs: 0,
      transferMs: 0,
      loopMs: 0,
      failureBps: Math.floor(failure / 100),
      verificationBps,
    },
  };
}

/**
 * The full effective cost: the standalone part with the delay added; out of range ranks last.
 *
 * @example
 * withDelay(standaloneCost(state, job, stage, offer), stageDelay(job, stage, node, nodeOf, liveRtt)).cost
 */
export function withDelay(base: StandaloneCost, delay: StageDelay): RankedCost {
  const last = Number.MAX_SAFE_INTEGER;
  const ranksLast = {
    value: last,
    failurePpm: base.failurePpm,
    cost: { compute: last, time: 0, delay: 0, risk: 0, verification: 0, total: last },
  };
  if (base.input === null) return ranksLast;
  try {
    const cost = effectiveCost({ ...base.input, transferMs: delay.transferMs, loopMs: delay.loopMs });
    return { value: cost.total, failurePpm: base.failurePpm, cost };
  } catch {
    return ranksLast;
  }
}

/**
 * What an offer would cost the requester, term by term, with the other stages where they are
 * placed: the standalone terms plus the requester's value of time for the delay this provider
 * implies (inputs moved from the providers that produced them, the loop's round trips to its
 * partner), with RTTs from live network coordinates or geography.
 */
export function offerCost(
  state: State,
  job: Job,
  stage: Stage,
  offer: Offer,
  nodeOf: NodeOfStage,
): RankedCost {
  const node = state.nodes.get(offer.provider)!;
  return withDelay(standaloneCost(state, job, stage, offer), stageDelay(job, stage, node, nodeOf, liveRtt));
}
