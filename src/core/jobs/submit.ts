/**
 * Job submission: a DAG of stages, validated whole, with its budget locked in escrow in full before
 * anything is matched — so a job can never overdraw, whatever happens later.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { jobIdOf } from "../../protocol/hash.ts";
import type { MessageBody, StageSpec } from "../../protocol/messages.ts";
import type { MessageContext } from "../context.ts";
import { available, escrow } from "../ledger/accounts.ts";
import { bpsCeil, post, requireFunds } from "../ledger/ledger.ts";
import type { Job, Stage } from "../state.ts";
import { verificationReserve } from "../verification/live.ts";
import { replicaSpecs, replicationFactor } from "../verification/replication-group.ts";

/**
 * The most a stage can cost its requester: max price × units × seconds, plus the protocol fee and,
 * for a spot-checked stage, one verifier fee.
 */
export function stageReserve(spec: StageSpec, feeBps: number, verifierFeeBps = 0): bigint {
  const maxCost = spec.maxPricePerUnitSecond * BigInt(spec.units) * BigInt(spec.seconds);
  return maxCost + bpsCeil(maxCost, feeBps) + verificationReserve(spec, verifierFeeBps);
}

/** Stage names in an order where every stage follows its dependencies; throws INVALID_JOB on a cycle. */
export function topologicalOrder(stages: readonly StageSpec[]): string[] {
  const byName = new Map<string, StageSpec>();
  for (const s of stages) {
    if (byName.has(s.name)) throw new SwitchyardError("INVALID_JOB", `stage name ${s.name} appears twice`);
    byName.set(s.name, s);
  }
  for (const s of stages) {
    for (const d of s.after) {
      if (!byName.has(d))
        throw new SwitchyardError("INVALID_JOB", `stage ${s.name} runs after unknown stage ${d}`);
      if (d === s.name) throw new SwitchyardError("INVALID_JOB", `stage ${s.name} depends on itself`);
    }
    checkProximityReferences(s, byName);
  }
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): void => {
    const mark = state.get(name);
    if (mark === "done") return;
    if (mark === "visiting") {
      throw new SwitchyardError("INVALID_JOB", `stages form a cycle: ${[...path, name].join(" → ")}`);
    }
    state.set(name, "visiting");
    for (const d of byName.get(name)!.after) visit(d, [...path, name]);
    state.set(name, "done");
    order.push(name);
  };
  for (const s of stages) visit(s.name, []);
  return order;
}

/**
 * A latency bound may name another stage; a loop names its partner. Both must exist and not be the
 * stage itself; loop partners run at the same time, so neither may run after the other, and only
 * one of the two declares the loop (it is placed second, next to its partner). Two stages placed
 * relative to each other could never be placed.
 */
function checkProximityReferences(s: StageSpec, byName: ReadonlyMap<string, StageSpec>): void {
  const refs: string[] = [];
  if (s.latency !== undefined && "stage" in s.latency.to) refs.push(s.latency.to.stage);
  if (s.loop !== undefined) refs.push(s.loop.with);
  for (const r of refs) {
    const other = byName.get(r);
    if (r === s.name)
      throw new SwitchyardError("INVALID_JOB", `stage ${s.name} cannot be placed relative to itself`);
    if (other === undefined)
      throw new SwitchyardError("INVALID_JOB", `stage ${s.name} refers to unknown stage ${r}`);
    const back = [
      other.loop?.with,
      other.latency !== undefined && "stage" in other.latency.to ? other.latency.to.stage : undefined,
    ];
    if (back.includes(s.name)) {
      throw new SwitchyardError(
        "INVALID_JOB",
        `stages ${s.name} and ${r} are each placed relative to the other`,
      );
    }
  }
  if (s.loop !== undefined) {
    const partner = byName.get(s.loop.with)!;
    if (partner.after.includes(s.name) || s.after.includes(partner.name)) {
      throw new SwitchyardError(
        "INVALID_JOB",
        `loop partners ${s.name} and ${partner.name} cannot run one after the other`,
      );
    }
  }
}

export function applySubmitJob(ctx: MessageContext, body: MessageBody<"submitJob">): Job {
  const { state } = ctx;
  const order = topologicalOrder(body.stages);
  const feeBps = state.params.protocolFeeBps;
  for (const s of body.stages) {
    const partOfLoop = s.loop !== undefined || body.stages.some((o) => o.loop?.with === s.name);
    if (s.verification !== "none" && partOfLoop) {
      throw new SwitchyardError(
        "INVALID_JOB",
        `stage ${s.name}: loop stages cannot be verified yet (their steps depend on the partner); use verification "none"`,
      );
    }
  }
  const vBps = state.params.verifierFeeBps;
  // replicate:k adds k − 1 replicas of the stage, each with its own provider and reserve.
  const all = body.stages.flatMap((s) => [s, ...replicaSpecs(s)]);
  const reserves = new Map(all.map((s) => [s.name, stageReserve(s, feeBps, vBps)]));
  const stagesNeed = [...reserves.values()].reduce((a, b) => a + b, 0n);
  // The transfer budget comes on top of the stages' reserves, so paying bandwidth and relay fees
  // can never eat into what a stage may still cost (routing/transfer-fees.ts).
  const transferBudget = body.transferBudget ?? 0n;
  const needed = stagesNeed + transferBudget;
  if (body.budget < needed) {
    throw new SwitchyardError(
      "INSUFFICIENT_FUNDS",
      transferBudget === 0n
        ? `budget ${body.budget} is below the stages' maximum cost plus fees, ${needed}; raise the budget or lower max prices`
        : `budget ${body.budget} is below the stages' maximum cost plus fees, ${stagesNeed}, plus the transfer budget ${transferBudget}; raise the budget, lower max prices or the transfer budget`,
      { details: { budget: body.budget.toString(), needed: needed.toString() } },
    );
  }
  requireFunds(state, available(ctx.signer), body.budget, "job budget");

  const id = jobIdOf(ctx.signer, ctx.nonce);
  const stages = new Map<string, Stage>();
  const specs = new Map(body.stages.map((s) => [s.name, s]));
  for (const name of order) {
    const spec = specs.get(name)!;
    const k = replicationFactor(spec);
    for (const member of [spec, ...replicaSpecs(spec)]) {
      stages.set(member.name, {
        spec: member,
        status: "pending",
        reserve: reserves.get(member.name)!,
        attempts: 0,
        timedOut: [],
        settlements: 0,
        ...(k === 0 ? {} : { replication: { group: spec.name, k } }),
      });
    }
  }
  const job: Job = {
    id,
    requester: ctx.signer,
    budget: body.budget,
    ...(body.valueOfTimePerSecond === undefined ? {} : { valueOfTimePerSecond: body.valueOfTimePerSecond }),
    submittedAt: ctx.time,
    ...(body.sealed === true ? { sealed: true as const } : {}),
    ...(body.transferBudget === undefined ? {} : { transferBudget: body.transferBudget, transferPaid: 0n }),
    stages,
    status: "open",
  };
  post(state, ctx.journal, available(ctx.signer), escrow(id), body.budget);
  state.jobs.set(id, job);
  ctx.journal.jobs.add(id);
  return job;
}
