/**
 * Verifier assignment and committed verdicts.
 *
 * Verifiers are drawn from a beacon taken after the provider's commitment, so nobody can predict
 * (or buy) the assignment before the result is fixed; the provider's own identity is never
 * eligible. Verdicts are committed, then revealed: a verifier that sees another's verdict before
 * committing its own can copy it, which is exactly the laziness canaries exist to catch.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { hashCanonical } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { uniformBelow } from "./beacon.ts";

/**
 * `count` distinct verifiers from `candidates`, never `provider` nor anyone in `exclude`,
 * uniformly without replacement (a partial Fisher–Yates shuffle driven by the beacon). Candidates
 * are sorted first, so the result depends on the set, not on the order it was listed in.
 *
 * @example
 * selectVerifiers(beacon(commitHash, `verifiers/${job}/${stage}`), nodes, provider, 1);
 */
export function selectVerifiers(
  seed: Hex32,
  candidates: readonly string[],
  provider: string,
  count: number,
  exclude: readonly string[] = [],
): string[] {
  const barred = new Set([provider, ...exclude]);
  const pool = [...new Set(candidates)].filter((c) => !barred.has(c)).sort();
  if (!Number.isSafeInteger(count) || count < 1 || count > pool.length) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `need ${count} verifiers but only ${pool.length} eligible candidates exist: register more verifiers`,
      { details: { eligible: pool.length, count } },
    );
  }
  for (let i = 0; i < count; i++) {
    const j = i + Number(uniformBelow(seed, BigInt(pool.length - i), i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

/**
 * Probability, in ppm rounded up, that a committee of `size` drawn uniformly from `eligible`
 * verifiers consists only of the `colluders`: C(colluders, size) / C(eligible, size). One honest
 * member is enough to open a dispute, so this is the chance a colluding pair approves a cheat
 * that was selected for checking.
 */
export function captureProbabilityPpm(eligible: number, colluders: number, size: number): number {
  if (colluders < size) return 0;
  let num = 1n;
  let den = 1n;
  for (let i = 0; i < size; i++) {
    num *= BigInt(colluders - i);
    den *= BigInt(eligible - i);
  }
  return Number((num * 1_000_000n + den - 1n) / den);
}

export type Verdict = "match" | "mismatch" | "withheld";

export interface VerdictReveal {
  readonly verdict: Verdict;
  /** 32 random bytes (hex) chosen by the verifier; keeps a two-valued verdict from being guessed. */
  readonly salt: string;
  readonly verifier: string;
  /** The stage's key, e.g. `${jobId}/${stageName}`, so a commitment cannot be reused elsewhere. */
  readonly stage: string;
  /** The verifier's own hash at the end of the checked segment: committed with the verdict. */
  readonly computed: string;
}

/**
 * H(verdict ‖ salt ‖ verifier ‖ stage ‖ computed), over canonical JSON so the parts cannot run into
 * each other.
 *
 * @example
 * const c = verdictCommitment({ verdict: "match", salt, verifier: me, stage: "j1/train", computed });
 */
export function verdictCommitment(reveal: VerdictReveal): Hex32 {
  return hashCanonical("verdict-commitment", {
    verdict: reveal.verdict,
    salt: reveal.salt,
    verifier: reveal.verifier,
    stage: reveal.stage,
    computed: reveal.computed,
  });
}

/** True when `reveal` opens `commitment`: same verdict, salt, verifier, stage and computed hash. */
export function revealMatches(commitment: Hex32, reveal: VerdictReveal): boolean {
  return verdictCommitment(reveal) === commitment;
}
