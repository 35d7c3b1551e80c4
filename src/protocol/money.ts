/**
 * Money is `bigint` micro-credits everywhere inside Switchyard, and a decimal string on the wire.
 * A JSON number is rejected for an amount: binary floating point cannot hold every integer above
 * 2^53, and a silently rounded balance is a theft nobody can trace.
 */
import { z } from "zod";

/** 1 credit = 1,000,000 micro-credits. */
export const microPerCredit = 1_000_000n;

const decimal = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,29})$/, 'amounts are decimal strings of micro-credits, e.g. "1500000"');

/**
 * An amount as API views carry it: a decimal string of micro-credits, left undecoded, that may be
 * negative (the issuance account's balance).
 */
export const amountStringSchema = z.string().regex(/^-?(0|[1-9][0-9]*)$/);

/** A non-negative amount: a decimal string on the wire, a bigint after decoding. */
export const microSchema = z.codec(decimal, z.bigint().nonnegative(), {
  decode: (s) => BigInt(s),
  encode: (b) => b.toString(),
});

/** A strictly positive amount. */
export const positiveMicroSchema = z.codec(decimal, z.bigint().positive("amount must be positive"), {
  decode: (s) => BigInt(s),
  encode: (b) => b.toString(),
});

/** "12.5" credits from 12500000 micro-credits; exact, no floating point. */
export function formatCredits(m: bigint): string {
  const sign = m < 0n ? "-" : "";
  const abs = m < 0n ? -m : m;
  const whole = abs / microPerCredit;
  const frac = (abs % microPerCredit).toString().padStart(6, "0").replace(/0+$/, "");
  return `${sign}${whole}${frac ? `.${frac}` : ""}`;
}
