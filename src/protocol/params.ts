/**
 * Protocol parameters. Each has hard bounds that no proposal can cross (governance arrives later
 * and may only move a value inside its bounds). Durations are milliseconds of sequencer time;
 * fractions are basis points (1/10,000) so no floating point touches money.
 */
import { z } from "zod";
import { hex32Schema } from "./ids.ts";
import { microSchema } from "./money.ts";

const bounded = (min: number, max: number) => z.number().int().min(min).max(max);

export const paramsSchema = z.strictObject({
  /** Protocol fee on each settled stage, in basis points of the provider payment. */
  protocolFeeBps: bounded(0, 1000),
  /** Stake stays locked this long after unbond; must outlast every dispute window. */
  unbondingDelayMs: bounded(60_000, 90 * 24 * 3600_000),
  /** A matched stage must be started within this long, or it is reassigned. */
  startDeadlineMs: bounded(1_000, 24 * 3600_000),
  /** A running stage may take its declared seconds × this factor (in %) before it is reassigned. */
  runDeadlinePercent: bounded(100, 1000),
  /** Fixed grace added to every run deadline for transfer and scheduling. */
  runGraceMs: bounded(0, 3600_000),
  /**
   * Optional liveness lease: a running stage whose provider reported progress and then reported
   * nothing more for this long is taken from it as if it had missed its run deadline, which still
   * bounds the whole run (a provider that never reports keeps the run deadline alone). Unset (the
   * default): only the run deadline counts. Lets a network notice a vanished provider in seconds
   * while a slow one that keeps reporting keeps its stage.
   */
  progressTimeoutMs: bounded(1_000, 24 * 3600_000).optional(),
  /** How long a committed result waits for challenges before it is accepted and settled. */
  verificationWindowMs: bounded(0, 7 * 24 * 3600_000),
  /** A stage is refunded after this many failed placements. */
  maxAttempts: bounded(1, 20),
  /** Share of the provider's bonded stake slashed for a missed deadline (a fault the log proves). */
  timeoutSlashBps: bounded(0, 10_000),
  /** Minimum bonded stake for a provider's offers to be matched. */
  minProviderStake: microSchema,
  /** Largest single faucet grant on a dev network. */
  faucetMaxMicro: microSchema,
  /**
   * Verification (docs/verification.md). Defaults apply when a genesis written before these
   * existed is read, so old logs replay unchanged.
   */
  /** Fee for one spot check, in basis points of the stage's cost; reserved in escrow. */
  verifierFeeBps: bounded(0, 5_000).default(500),
  /** Share of a party's bonded stake slashed for a fault a dispute proves. */
  fraudSlashBps: bounded(0, 10_000).default(5_000),
  /** Lowest spot-check probability for anyone, in parts per million (see policy.ts). */
  spotFloorPpm: bounded(1, 1_000_000).default(750_000),
  /** Margin over the break-even check rate, in ppm (250,000 = +25 %). */
  spotMarginPpm: bounded(0, 10_000_000).default(250_000),
  /** Check rate of a provider with no verified history, in ppm. */
  spotNewcomerPpm: bounded(1, 1_000_000).default(1_000_000),
  /** A verifier must commit and reveal its verdict within this long of its assignment. */
  verdictWindowMs: bounded(1_000, 24 * 3600_000).default(60_000),
  /** Each dispute round (both answers, or the referee's step) must finish within this long. */
  disputeRoundMs: bounded(1_000, 24 * 3600_000).default(30_000),
  /**
   * The price index per (class, region) moves once per epoch this long, at the first tick after it
   * ends. Long enough that one busy minute is not a trend, short enough to follow a day's demand.
   */
  priceEpochMs: bounded(1_000, 24 * 3600_000).default(60_000),
  /**
   * The identity allowed to post canary commitments (docs/verification.md §9); none: no canaries.
   * A dev coordinator names its own key.
   */
  canaryAuthority: hex32Schema.optional(),
  /** Canaries the authority plants per spot-checked commitment, in ppm (50,000 = one in twenty). */
  canaryRatePpm: bounded(0, 1_000_000).default(50_000),
});

export type Params = z.output<typeof paramsSchema>;

export const defaultParams: Params = {
  protocolFeeBps: 100,
  unbondingDelayMs: 7 * 24 * 3600_000,
  startDeadlineMs: 30_000,
  runDeadlinePercent: 300,
  runGraceMs: 30_000,
  verificationWindowMs: 10_000,
  maxAttempts: 3,
  timeoutSlashBps: 100,
  minProviderStake: 1_000_000n,
  faucetMaxMicro: 1_000_000_000_000n,
  verifierFeeBps: 500,
  fraudSlashBps: 5_000,
  spotFloorPpm: 750_000,
  spotMarginPpm: 250_000,
  spotNewcomerPpm: 1_000_000,
  verdictWindowMs: 60_000,
  disputeRoundMs: 30_000,
  priceEpochMs: 60_000,
  canaryRatePpm: 50_000,
};
