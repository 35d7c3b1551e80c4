/**
 * Placing stages: a stage is placed once every stage it runs after has settled, on the offer the
 * job's joint plan chose for it (market/joint-plan.ts) while that offer is still eligible, else on
 * its own cheapest. A placed stage holds capacity on the chosen offer and its node until it
 * reaches a terminal status.
 */
import { canonicalize } from "../../protocol/canonical.ts";
import type { Cid } from "../../protocol/ids.ts";
import type { ApplyContext } from "../context.ts";
import { currentPlan } from "../market/joint-plan.ts";
import { findOffer, proximityBounds } from "../market/match.ts";
import { retireOfferIfIdle } from "../market/offers.ts";
import type { Job, Stage } from "../state.ts";
import { transition } from "./lifecycle.ts";

export function dependenciesSettled(job: Job, stage: Stage): boolean {
  return stage.spec.after.every((d) => {
    const dep = job.stages.get(d);
    return dep?.status === "settled" || dep?.replication?.outcome === "agreed";
  });
}

/** What a dependency hands on: its output, or its replica group's agreed output. */
export function resultOf(job: Job, name: string): string | undefined {
  const dep = job.stages.get(name);
  return dep?.replication?.output ?? dep?.output;
}

/** Try to place one pending stage whose dependencies have settled. */
export function placeStage(ctx: ApplyContext, job: Job, key: string, stage: Stage): boolean {
  const { state } = ctx;
  const bounds = proximityBounds(state, job, stage);
  // A bound relative to a stage that is not placed yet: wait for it (it is placed first).
  if (bounds === null) return false;
  // The joint plan decides where (when its offer is still eligible); readiness still decides when.
  const plan = currentPlan(state, job);
  const planned = plan?.stages.get(stage.spec.name);
  const result = findOffer(state, job, stage, bounds, planned === undefined ? {} : { planned });
  if (!result.ok) {
    // Explain once per change, not on every retry: the explanation is part of the state.
    if (stage.noMatch === undefined || canonicalize(stage.noMatch) !== canonicalize(result.explanation)) {
      stage.noMatch = result.explanation;
      ctx.effects.push({
        type: "noMatch",
        jobId: job.id,
        stage: stage.spec.name,
        explanation: result.explanation,
      });
    }
    return false;
  }
  const offer = result.offer;
  const node = state.nodes.get(offer.provider)!;
  offer.used += stage.spec.units;
  node.openStages++;
  ctx.journal.offers.add(offer.id);
  stage.provider = offer.provider;
  stage.offerId = offer.id;
  stage.price = offer.pricePerUnitSecond;
  // The egress price is fixed at the match, like the compute price: repricing the offer later
  // changes new matches, not the work in flight.
  if (offer.pricePerGigabyte === undefined) delete stage.egressPricePerGigabyte;
  else stage.egressPricePerGigabyte = offer.pricePerGigabyte;
  stage.placement =
    plan === undefined || planned === undefined
      ? result.explanation
      : {
          ...result.explanation,
          plan: {
            total: plan.total,
            ...(plan.greedyTotal === undefined ? {} : { greedyTotal: plan.greedyTotal }),
            exact: plan.exact,
          },
        };
  stage.attempts++;
  stage.deadline = ctx.time + state.params.startDeadlineMs;
  delete stage.noMatch;
  transition(ctx, key, stage, "matched");
  // A plan with nothing left to place would only weigh on every state hash; a re-placement re-plans.
  if (job.plan !== undefined && ![...job.stages.values()].some((s) => s.status === "pending"))
    delete job.plan;
  const inputs: Cid[] = [...stage.spec.inputs];
  for (const d of stage.spec.after) {
    const out = resultOf(job, d);
    if (out !== undefined) inputs.push(out as string as Cid);
  }
  ctx.effects.push({
    type: "assign",
    jobId: job.id,
    stage: stage.spec.name,
    provider: offer.provider,
    offerId: offer.id,
    program: stage.spec.program,
    params: stage.spec.params,
    inputs,
    pricePerUnitSecond: offer.pricePerUnitSecond,
    deadline: stage.deadline,
  });
  return true;
}

/** Give back the capacity a placed stage held. */
/**
 * Forget a stage's match — provider, offer, the prices fixed at the match, its deadline — once it is
 * taken off its provider (after `releasePlacement`), so a re-placement starts clean.
 */
export function forgetMatch(stage: Stage): void {
  delete stage.provider;
  delete stage.offerId;
  delete stage.price;
  delete stage.egressPricePerGigabyte;
  delete stage.deadline;
  delete stage.runDeadline;
}

export function releasePlacement(ctx: ApplyContext, stage: Stage): void {
  const { state } = ctx;
  if (stage.offerId === undefined || stage.provider === undefined) return;
  const offer = state.offers.get(stage.offerId);
  if (offer !== undefined) {
    offer.used -= stage.spec.units;
    ctx.journal.offers.add(offer.id);
    retireOfferIfIdle(state, offer);
  }
  const node = state.nodes.get(stage.provider);
  if (node !== undefined) node.openStages--;
}

/**
 * Try every pending stage whose dependencies have settled, in arrival order. A stage placed relative
 * to another (latency bound or loop) waits until that one is placed, so passes repeat while a pass
 * placed something — at most once per pending stage, so this always ends.
 */
export function placePending(ctx: ApplyContext): void {
  const { state } = ctx;
  for (let pass = 0; pass <= state.pending.size; pass++) {
    if (state.pending.size === 0 || state.offers.size === 0) return;
    let placed = false;
    for (const key of [...state.pending.keys()]) {
      const slash = key.indexOf("/");
      const job = state.jobs.get(key.slice(0, slash) as Job["id"]);
      const stage = job?.stages.get(key.slice(slash + 1));
      if (job === undefined || stage === undefined || stage.status !== "pending") continue;
      if (!dependenciesSettled(job, stage)) continue;
      ctx.journal.jobs.add(job.id);
      if (placeStage(ctx, job, key, stage)) placed = true;
    }
    if (!placed) return;
  }
}
