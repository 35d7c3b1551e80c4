/**
 * Double-entry postings. Every change of a balance goes through `post`, which moves an amount from
 * one account to another and records the prior balances in the event's journal. Callers check
 * funds before posting (validate, then mutate), so a rejected event never leaves a half-posting.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { State } from "../state.ts";
import { mayGoNegative } from "./accounts.ts";
import type { Journal } from "./journal.ts";

export function balanceOf(state: State, account: string): bigint {
  return state.balances.get(account) ?? 0n;
}

function touch(state: State, journal: Journal, account: string): bigint {
  const current = state.balances.get(account) ?? 0n;
  if (!journal.before.has(account)) journal.before.set(account, current);
  return current;
}

/** Move `amount` from `from` to `to`. A zero amount is a no-op; a negative one is a bug. */
export function post(state: State, journal: Journal, from: string, to: string, amount: bigint): void {
  if (amount === 0n) return;
  if (amount < 0n || from === to) {
    throw new SwitchyardError("INVARIANT_VIOLATED", `illegal posting of ${amount} from ${from} to ${to}`);
  }
  const a = touch(state, journal, from);
  const b = touch(state, journal, to);
  if (a < amount && !mayGoNegative(from)) {
    // Handlers must check funds first; reaching this means a handler forgot, so halt.
    throw new SwitchyardError("INVARIANT_VIOLATED", `posting would overdraw ${from}: ${a} < ${amount}`);
  }
  state.balances.set(from, a - amount);
  state.balances.set(to, b + amount);
}

/** Reject unless `account` holds at least `amount`. */
export function requireFunds(state: State, account: string, amount: bigint, what: string): void {
  const have = balanceOf(state, account);
  if (have < amount) {
    throw new SwitchyardError(
      what === "stake" ? "INSUFFICIENT_STAKE" : "INSUFFICIENT_FUNDS",
      `${what}: need ${amount} micro-credits, have ${have}`,
      { details: { need: amount.toString(), have: have.toString() } },
    );
  }
}

/** `amount × bps / 10,000`, rounded up so fees and reserves never fall short by a micro-credit. */
export function bpsCeil(amount: bigint, bps: number): bigint {
  return (amount * BigInt(bps) + 9_999n) / 10_000n;
}

/** `amount × bps / 10,000`, rounded down (for slashes: never take more than the rule says). */
export function bpsFloor(amount: bigint, bps: number): bigint {
  return (amount * BigInt(bps)) / 10_000n;
}
