/**
 * Reputation per (provider, workload class) (DESIGN.md §4): verified successes, proven failures and
 * timeouts, folded into an integer risk score in parts per million. It feeds the spot-check rate
 * (verification/policy.ts) and, later, the market's risk premium. It never replaces verification:
 * the rate it lowers stays at or above the level where cheating loses money.
 *
 * risk = (prior + w_f·failures + timeouts) / (prior + successes + w_f·failures + timeouts), in ppm,
 * rounded up. A newcomer (no history) has risk 1,000,000: nothing is known, so it is checked at the
 * newcomer rate. A proven failure weighs `failureWeight` (10) successes, because it is evidence of
 * intent; a timeout weighs one, because it is more often bad luck than fraud.
 */
import { ppmScale } from "../verification/beacon.ts";

export interface ReputationRecord {
  readonly successes: number;
  readonly failures: number;
  readonly timeouts: number;
}

export type ReputationOutcome = "success" | "failure" | "timeout";

/** Key of a reputation entry: reputation on one workload class says nothing about another. */
export function reputationKey(provider: string, workloadClass: string): string {
  return `${provider}\u0000${workloadClass}`;
}

export const emptyReputation: ReputationRecord = { successes: 0, failures: 0, timeouts: 0 };

const prior = 1n;
const failureWeight = 10n;

/**
 * The record after one more verified outcome.
 *
 * @example
 * recordOutcome(emptyReputation, "success"); // { successes: 1, failures: 0, timeouts: 0 }
 */
export function recordOutcome(record: ReputationRecord, outcome: ReputationOutcome): ReputationRecord {
  switch (outcome) {
    case "success":
      return { ...record, successes: record.successes + 1 };
    case "failure":
      return { ...record, failures: record.failures + 1 };
    case "timeout":
      return { ...record, timeouts: record.timeouts + 1 };
    default: {
      const never: never = outcome;
      return never;
    }
  }
}

/**
 * Risk in ppm, in (0, 1,000,000]: never 0, so reputation never switches checking off.
 *
 * @example
 * riskPpm(emptyReputation); // 1_000_000
 * riskPpm({ successes: 99, failures: 0, timeouts: 0 }); // 10_000
 */
export function riskPpm(record: ReputationRecord): number {
  const bad = prior + failureWeight * BigInt(record.failures) + BigInt(record.timeouts);
  const total = bad + BigInt(record.successes);
  return Number((bad * BigInt(ppmScale) + total - 1n) / total);
}

/** Prior of the failure estimate: as if a newcomer had 1 failure in 20 attempts (5 %). */
const failurePrior = { bad: 1n, total: 20n };

/**
 * The probability that an attempt by this provider fails or is proven wrong, in ppm, for the
 * market's risk premium (DESIGN.md §4): a proven failure weighs `failureWeight`, a timeout one. A
 * newcomer starts at 5 %: unlike `riskPpm`, which decides how often to *check* and so assumes the
 * worst of the unknown, this prices how often work must be *redone*, and the unknown is usually
 * honest.
 *
 * @example
 * failurePpm(emptyReputation); // 50_000
 * failurePpm({ successes: 80, failures: 0, timeouts: 0 }); // 10_000
 */
export function failurePpm(record: ReputationRecord): number {
  const bad = failurePrior.bad + failureWeight * BigInt(record.failures) + BigInt(record.timeouts);
  const total =
    failurePrior.total +
    BigInt(record.successes) +
    failureWeight * BigInt(record.failures) +
    BigInt(record.timeouts);
  return Number((bad * BigInt(ppmScale) + total - 1n) / total);
}
