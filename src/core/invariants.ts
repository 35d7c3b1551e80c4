/**
 * Invariants, checked after every event (always on, also in production) and in full on every
 * replay. A violation throws INVARIANT_VIOLATED: the machine halts rather than continue in a
 * wrong state (TigerBeetle's rule). The per-event check costs O(what the event touched); the full
 * check walks the whole state and is run at the end of replays, at snapshots and by the simulator.
 */
import { SwitchyardError } from "../protocol/errors.ts";
import type { JobId } from "../protocol/ids.ts";
import { isLegalTransition, terminalStatuses } from "./jobs/lifecycle.ts";
import { escrow, mayGoNegative } from "./ledger/accounts.ts";
import type { Journal } from "./ledger/journal.ts";
import { balanceOf } from "./ledger/ledger.ts";
import type { State } from "./state.ts";

function violated(what: string, details: Record<string, unknown> = {}): never {
  throw new SwitchyardError("INVARIANT_VIOLATED", `invariant violated: ${what}`, { details });
}

function checkJob(state: State, jobId: JobId): void {
  const job = state.jobs.get(jobId);
  if (job === undefined) return;
  const held = balanceOf(state, escrow(jobId));
  let open = 0n;
  for (const stage of job.stages.values()) {
    if (stage.settlements > 1)
      violated(`stage ${stage.spec.name} of job ${jobId} settled ${stage.settlements} times`);
    if ((stage.status === "settled") !== (stage.settlements === 1)) {
      violated(`stage ${stage.spec.name} is ${stage.status} with ${stage.settlements} settlements`);
    }
    if (!terminalStatuses.has(stage.status)) open += stage.reserve;
    // A payment shared after a failover adds up to exactly what the stage cost.
    if (stage.payouts !== undefined && stage.payouts.reduce((n, p) => n + p.amount, 0n) !== stage.paid)
      violated(`stage ${stage.spec.name} of job ${jobId} split its payment into parts that do not sum to it`);
  }
  // Transfer fees stay within the budget set aside for them, and the stages' records account for them.
  const paid = job.transferPaid ?? 0n;
  if (paid > (job.transferBudget ?? 0n))
    violated(
      `job ${jobId} paid ${paid} in transfer fees, above its transfer budget ${job.transferBudget ?? 0n}`,
    );
  let recorded = 0n;
  for (const stage of job.stages.values())
    for (const t of stage.transfers ?? []) recorded += t.egressFee + t.relayFee;
  if (recorded !== paid)
    violated(`job ${jobId} paid ${paid} in transfer fees, but its stages record ${recorded}`);
  if (held < open)
    violated(`escrow of job ${jobId} holds ${held}, below the ${open} its open stages may cost`);
  if (job.status === "finished" && held !== 0n)
    violated(`finished job ${jobId} still holds ${held} in escrow`);
}

/** The always-on check after one event, over what the journal says it touched. */
export function checkEventInvariants(state: State, journal: Journal): void {
  let delta = 0n;
  for (const [account, before] of journal.before) {
    const after = balanceOf(state, account);
    delta += after - before;
    if (after < 0n && !mayGoNegative(account)) violated(`account ${account} is negative: ${after}`);
  }
  if (delta !== 0n) violated(`value not conserved: touched accounts changed by ${delta} in total`);
  for (const t of journal.transitions) {
    if (!isLegalTransition(t.from, t.to)) violated(`illegal transition ${t.from} → ${t.to} of ${t.stage}`);
  }
  for (const jobId of journal.jobs) checkJob(state, jobId);
  for (const offerId of journal.offers) {
    const offer = state.offers.get(offerId as never);
    if (offer !== undefined && (offer.used < 0 || offer.used > offer.capacity)) {
      violated(`offer ${offerId} uses ${offer.used} of ${offer.capacity} units`);
    }
  }
}

/** The full check over the whole state. */
export function checkAllInvariants(state: State): void {
  let total = 0n;
  for (const [account, balance] of state.balances) {
    total += balance;
    if (balance < 0n && !mayGoNegative(account)) violated(`account ${account} is negative: ${balance}`);
  }
  if (total !== 0n) violated(`value not conserved: all accounts sum to ${total}, not 0`);
  for (const jobId of state.jobs.keys()) checkJob(state, jobId);
  const offered = new Map<string, number>();
  const open = new Map<string, number>();
  for (const offer of state.offers.values()) {
    if (offer.used < 0 || offer.used > offer.capacity)
      violated(`offer ${offer.id} uses ${offer.used} of ${offer.capacity}`);
    offered.set(offer.provider, (offered.get(offer.provider) ?? 0) + offer.capacity);
  }
  for (const job of state.jobs.values()) {
    for (const s of job.stages.values()) {
      if (
        s.provider !== undefined &&
        (s.status === "matched" || s.status === "running" || s.status === "committed")
      ) {
        open.set(s.provider, (open.get(s.provider) ?? 0) + 1);
      }
    }
  }
  for (const node of state.nodes.values()) {
    if (node.offered !== (offered.get(node.id) ?? 0))
      violated(`node ${node.id} counts ${node.offered} offered units`);
    if (node.offered > node.capacity) violated(`node ${node.id} offers more than its capacity`);
    if (node.openStages !== (open.get(node.id) ?? 0))
      violated(`node ${node.id} counts ${node.openStages} open stages`);
  }
  checkPriceIndex(state);
}

/** Every published index is a positive price, measured at a past epoch, with a reading in 0..100 %. */
function checkPriceIndex(state: State): void {
  const { epochAt, entries } = state.priceIndex;
  if (epochAt > state.time) violated(`price epoch at ${epochAt} is after the state's time ${state.time}`);
  for (const [key, r] of entries) {
    if (key !== `${r.resourceClass}|${r.region}`)
      violated(`price index ${key} holds ${r.resourceClass}|${r.region}`);
    if (r.index < 1n) violated(`price index ${key} is ${r.index}, below the floor of 1`);
    if (r.utilizationBps < 0 || r.utilizationBps > 10_000)
      violated(`price index ${key} reads ${r.utilizationBps} bps utilization`);
    if (r.updatedAt > epochAt) violated(`price index ${key} was updated after the last epoch`);
  }
}
