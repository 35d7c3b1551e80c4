/** Ledger messages: faucet, transfer, bond, unbond, withdraw; and slashing for the other slices. */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { PublicKeyHex } from "../../protocol/ids.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { ApplyContext, MessageContext } from "../context.ts";
import { available, issuance, staked, unbondingAccount } from "./accounts.ts";
import { balanceOf, bpsFloor, post, requireFunds } from "./ledger.ts";

export function applyFaucet(ctx: MessageContext, body: MessageBody<"faucet">): void {
  const { state } = ctx;
  if (!state.devFaucet) {
    throw new SwitchyardError(
      "FAUCET_DISABLED",
      "the faucet exists only on dev networks; obtain credits by transfer",
    );
  }
  if (body.amount > state.params.faucetMaxMicro) {
    throw new SwitchyardError(
      "INSUFFICIENT_FUNDS",
      `faucet grants at most ${state.params.faucetMaxMicro} micro-credits`,
    );
  }
  post(state, ctx.journal, issuance, available(ctx.signer), body.amount);
}

export function applyTransfer(ctx: MessageContext, body: MessageBody<"transfer">): void {
  if (body.to === ctx.signer)
    throw new SwitchyardError("MALFORMED", "a transfer to yourself changes nothing");
  requireFunds(ctx.state, available(ctx.signer), body.amount, "transfer");
  post(ctx.state, ctx.journal, available(ctx.signer), available(body.to), body.amount);
}

export function applyBond(ctx: MessageContext, body: MessageBody<"bond">): void {
  requireFunds(ctx.state, available(ctx.signer), body.amount, "bond");
  post(ctx.state, ctx.journal, available(ctx.signer), staked(ctx.signer), body.amount);
}

/** Stake a provider must keep bonded while it has open stages. */
export function lockedStake(ctx: ApplyContext, who: PublicKeyHex): bigint {
  const node = ctx.state.nodes.get(who);
  return node !== undefined && node.openStages > 0 ? ctx.state.params.minProviderStake : 0n;
}

export function applyUnbond(ctx: MessageContext, body: MessageBody<"unbond">): void {
  const { state } = ctx;
  const free = balanceOf(state, staked(ctx.signer)) - lockedStake(ctx, ctx.signer);
  if (free < body.amount) {
    throw new SwitchyardError(
      "INSUFFICIENT_STAKE",
      `can unbond at most ${free < 0n ? 0n : free} micro-credits now: stake backing open work stays bonded`,
    );
  }
  post(state, ctx.journal, staked(ctx.signer), unbondingAccount(ctx.signer), body.amount);
  const entries = state.unbonding.get(ctx.signer) ?? [];
  entries.push({ amount: body.amount, releaseAt: ctx.time + state.params.unbondingDelayMs });
  state.unbonding.set(ctx.signer, entries);
}

export function applyWithdrawUnbonded(ctx: MessageContext): void {
  const { state } = ctx;
  const entries = state.unbonding.get(ctx.signer) ?? [];
  const due = entries.filter((e) => e.releaseAt <= ctx.time);
  if (due.length === 0) {
    const next = entries[0]?.releaseAt;
    throw new SwitchyardError(
      "UNBONDING_NOT_DUE",
      next === undefined ? "nothing is unbonding" : `nothing to withdraw until sequencer time ${next} ms`,
      { details: next === undefined ? {} : { releaseAt: next } },
    );
  }
  // A slash may have taken part of the unbonding balance; never pay out more than is there.
  let amount = due.reduce((sum, e) => sum + e.amount, 0n);
  const held = balanceOf(state, unbondingAccount(ctx.signer));
  if (amount > held) amount = held;
  post(state, ctx.journal, unbondingAccount(ctx.signer), available(ctx.signer), amount);
  const rest = entries.filter((e) => e.releaseAt > ctx.time);
  if (rest.length === 0) state.unbonding.delete(ctx.signer);
  else state.unbonding.set(ctx.signer, rest);
}

/**
 * Take up to `amount` of `who`'s stake (bonded first, then unbonding, which stays slashable until
 * released) and pay it to `beneficiary`'s available balance. Returns what was actually taken.
 */
export function slash(
  ctx: ApplyContext,
  who: PublicKeyHex,
  amount: bigint,
  beneficiary: string,
  reason: string,
): bigint {
  const { state, journal } = ctx;
  const fromStake = minBig(amount, balanceOf(state, staked(who)));
  post(state, journal, staked(who), beneficiary, fromStake);
  const fromUnbonding = minBig(amount - fromStake, balanceOf(state, unbondingAccount(who)));
  post(state, journal, unbondingAccount(who), beneficiary, fromUnbonding);
  const taken = fromStake + fromUnbonding;
  if (taken > 0n) ctx.effects.push({ type: "slashed", who, amount: taken, reason });
  return taken;
}

/**
 * Slashes `timeoutSlashBps` of `who`'s bonded stake to `beneficiary` for a missed deadline — a
 * fault the log itself proves (decision 003). Returns the amount taken.
 */
export function slashForDelay(
  ctx: ApplyContext,
  who: PublicKeyHex,
  beneficiary: string,
  reason: string,
): bigint {
  const amount = bpsFloor(balanceOf(ctx.state, staked(who)), ctx.state.params.timeoutSlashBps);
  return slash(ctx, who, amount, beneficiary, reason);
}

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
