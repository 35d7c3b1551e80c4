/**
 * The `spot` policy: how likely a stage is to be checked, and which segment is re-executed.
 *
 * Economics (docs/verification.md §3). A provider that skips the work on a fraction f of a stage's
 * segments saves f·C (C = compute cost of the stage). One segment is re-executed, chosen
 * uniformly, so a check finds the cheat with probability f, and a caught cheat loses the payment P
 * and the slash S. Relative to honest work its expected gain is
 *
 *     Δ(f) = f·C − p·f·(P + S)  <  0   ⇔   p > C / (P + S)
 *
 * — the same bound for every f, so no partial cheat is better than a full one. This is stricter
 * than the textbook p > G / (G + S + P), which assumes a caught cheater must also redo the work.
 * Every quantity is an integer: money in micro-credits (bigint), probabilities in ppm.
 *
 * The rate then gets a margin over break-even, a governed floor, and a surcharge that falls with
 * reputation: p = base + (newcomer − base)·risk, base = max(floor, breakEven·(1 + margin)). So
 * reputation lowers p toward `base` but never below it, and never to 0.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { chancePpm, checkPpm, ppmScale, uniformBelow } from "./beacon.ts";

/** Governed tunables of the spot policy (to join the parameter registry with the integration). */
export interface SpotPolicyParams {
  /**
   * Lowest check probability for anyone. 750,000 ppm is set by the detection target, not by the
   * economics: a provider that cheats independently on a fraction r of N stages escapes every
   * check with probability (1 − r·p)^N ≈ e^(−r·N·p), which is ≤ δ = 0.001 for r = 1%, N = 1,000
   * only when p ≥ ln(1000) / 10 ≈ 0.691; 0.75 leaves room for sampling. A check re-executes one
   * of m segments, so the floor costs p/m of the useful compute (0.023 for m = 32).
   */
  readonly floorPpm: number;
  /** Safety margin over the break-even rate, for mis-estimated costs (250,000 = +25%). */
  readonly marginPpm: number;
  /** Rate for a provider with no history (risk 1,000,000 ppm): every stage is checked. */
  readonly newcomerPpm: number;
}

export const defaultSpotPolicy: SpotPolicyParams = {
  floorPpm: 750_000,
  marginPpm: 250_000,
  newcomerPpm: 1_000_000,
};

export interface SpotRateInput {
  /** What the requester pays the provider for the stage, forfeited when a cheat is caught. */
  readonly paymentMicro: bigint;
  /** The provider's bonded stake backing the stage. */
  readonly stakeMicro: bigint;
  /** Share of the stake slashed on a proven fault, in basis points. */
  readonly slashBps: number;
  /** The provider's gain from skipping all the work: the compute cost saved (≈ payment). */
  readonly cheatGainMicro: bigint;
  /** Fee paid from escrow to the verifier of one check; only reported as an expected cost. */
  readonly verifierFeeMicro: bigint;
  /** The provider's risk for this workload class (reputation/reputation.ts). */
  readonly riskPpm: number;
}

export interface SpotRate {
  /** The check probability. */
  readonly ppm: number;
  /** C / (P + S), rounded up: at this rate cheating breaks even. */
  readonly breakEvenPpm: number;
  /** max(floor, break-even with margin): the rate a provider of perfect reputation approaches. */
  readonly basePpm: number;
  readonly slashMicro: bigint;
  /** p × verifier fee, rounded up: what verification costs the escrow on average. */
  readonly expectedVerifierFeeMicro: bigint;
  /**
   * True when even checking every stage does not make cheating lose (C ≥ P + S): the stake is
   * too small for `spot`, and the stage needs more stake or `replicate:k`.
   */
  readonly stakeTooSmall: boolean;
}

const scale = BigInt(ppmScale);
const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;
const clampPpm = (x: bigint): number => Number(x > scale ? scale : x);

/**
 * The check probability of a stage.
 *
 * @example
 * spotCheckRate({ paymentMicro: 1_000_000n, stakeMicro: 10_000_000n, slashBps: 5_000,
 *   cheatGainMicro: 800_000n, verifierFeeMicro: 50_000n, riskPpm: 1_000_000 }).ppm; // 1_000_000
 */
export function spotCheckRate(input: SpotRateInput, params: SpotPolicyParams = defaultSpotPolicy): SpotRate {
  checkPpm(input.riskPpm, "riskPpm");
  checkPpm(params.floorPpm, "floorPpm");
  checkPpm(params.newcomerPpm, "newcomerPpm");
  if (params.floorPpm < 1) throw new SwitchyardError("MALFORMED", "the spot-check floor must be above 0");
  if (!Number.isSafeInteger(params.marginPpm) || params.marginPpm < 0) {
    throw new SwitchyardError(
      "MALFORMED",
      `marginPpm must be a non-negative integer, got ${params.marginPpm}`,
    );
  }
  if (!Number.isSafeInteger(input.slashBps) || input.slashBps < 0 || input.slashBps > 10_000) {
    throw new SwitchyardError(
      "MALFORMED",
      `slashBps must be an integer in [0, 10000], got ${input.slashBps}`,
    );
  }
  for (const [name, v] of Object.entries({
    paymentMicro: input.paymentMicro,
    stakeMicro: input.stakeMicro,
    cheatGainMicro: input.cheatGainMicro,
    verifierFeeMicro: input.verifierFeeMicro,
  })) {
    if (v < 0n)
      throw new SwitchyardError("MALFORMED", `${name} must not be negative`, {
        details: { [name]: String(v) },
      });
  }
  const slashMicro = (input.stakeMicro * BigInt(input.slashBps)) / 10_000n;
  const atRisk = input.paymentMicro + slashMicro;
  const stakeTooSmall = input.cheatGainMicro >= atRisk;
  const breakEven = atRisk === 0n ? scale : ceilDiv(input.cheatGainMicro * scale, atRisk);
  const withMargin = ceilDiv(breakEven * (scale + BigInt(params.marginPpm)), scale);
  const base = BigInt(clampPpm(withMargin > BigInt(params.floorPpm) ? withMargin : BigInt(params.floorPpm)));
  const top = BigInt(params.newcomerPpm) > base ? BigInt(params.newcomerPpm) : base;
  const ppm = clampPpm(base + ceilDiv((top - base) * BigInt(input.riskPpm), scale));
  return {
    ppm,
    breakEvenPpm: clampPpm(breakEven),
    basePpm: Number(base),
    slashMicro,
    expectedVerifierFeeMicro: ceilDiv(BigInt(ppm) * input.verifierFeeMicro, scale),
    stakeTooSmall,
  };
}

export interface SpotDecision {
  readonly checked: boolean;
  /** Segment j (0-based) to re-execute: from checkpoint j to checkpoint j + 1. */
  readonly segment: number;
}

/**
 * Whether a committed stage is checked and which of its `segments` is re-executed, from a beacon
 * taken AFTER the commitment was sequenced (so the provider could not know either when it
 * committed). The segment is drawn even when the stage is not checked, so a canary or a later
 * policy change reuses the same choice.
 *
 * @example
 * decideSpotCheck(beacon(commitHash, `spot/${job}/${stage}`), 600_000, 16);
 */
export function decideSpotCheck(seed: Hex32, ppm: number, segments: number): SpotDecision {
  if (!Number.isSafeInteger(segments) || segments < 1) {
    throw new SwitchyardError("MALFORMED", `a stage needs at least one segment, got ${segments}`);
  }
  return { checked: chancePpm(seed, ppm, 0), segment: Number(uniformBelow(seed, BigInt(segments), 1)) };
}
