/**
 * Account names of the double-entry ledger. Every movement of value is a posting from one account
 * to another, so the sum over all accounts is always zero: `issuance` is the only account allowed
 * to go negative, and its balance is minus everything ever minted.
 */
import type { JobId, PublicKeyHex } from "../../protocol/ids.ts";

export const issuance = "issuance";
export const treasury = "treasury";
/** Spendable balance of an identity. */
export const available = (who: PublicKeyHex): string => `avail:${who}`;
const stakeAccounts = new Map<string, string>();
/**
 * Bonded stake of an identity: slashable, backs its offers. Memoized: the matcher reads every
 * examined provider's stake, and one string per provider (whose hash the engine keeps) looks up
 * faster than a new concatenation each time. A pure function of `who`.
 */
export const staked = (who: PublicKeyHex): string => {
  let account = stakeAccounts.get(who);
  if (account === undefined) {
    account = `stake:${who}`;
    stakeAccounts.set(who, account);
  }
  return account;
};
/** Stake leaving: still slashable until its release time. */
export const unbondingAccount = (who: PublicKeyHex): string => `unbond:${who}`;
/** Escrow of one job: its budget, locked in full at submission. */
export const escrow = (job: JobId): string => `escrow:${job}`;

export const mayGoNegative = (account: string): boolean => account === issuance;
