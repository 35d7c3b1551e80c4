/**
 * Monte Carlo over the verification library: one provider (honest or cheating on a fraction of its
 * stages), a pool of verifiers (honest, lazy, or colluding with the provider), the spot policy with
 * reputation, committees drawn from the beacon, canaries keyed by a committed secret, and disputes
 * settled by bisection and a referee step. Randomness that the protocol would take from the log
 * (check, segment, committee) comes from the beacon over a simulated event hash; the agents' own
 * choices (when to cheat, which workload) come from the seeded SimRandom, so a seed reproduces a run.
 */

import {
  emptyReputation,
  type ReputationRecord,
  recordOutcome,
  riskPpm,
} from "../../core/reputation/reputation.ts";
import { beacon } from "../../core/verification/beacon.ts";
import { isCanary } from "../../core/verification/canaries.ts";
import {
  revealMatches,
  selectVerifiers,
  type VerdictReveal,
  verdictCommitment,
} from "../../core/verification/committee.ts";
import {
  decideSpotCheck,
  defaultSpotPolicy,
  type SpotPolicyParams,
  spotCheckRate,
} from "../../core/verification/policy.ts";
import { utf8 } from "../../protocol/bytes.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { sha256Hex, taggedHash } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { SimRandom } from "../random.ts";
import {
  type CheatStrategy,
  cheatingRun,
  checkSegment,
  honestRun,
  makeWorkload,
  type SegmentCheck,
  type StageRun,
  settleMismatch,
} from "./workload.ts";

export type VerifierBehaviour = "honest" | "lazy" | "colluding";

export interface Economics {
  readonly paymentMicro: bigint;
  /** What honestly computing the whole stage costs the provider. */
  readonly costMicro: bigint;
  readonly stakeMicro: bigint;
  readonly slashBps: number;
  readonly verifierFeeMicro: bigint;
}

/**
 * 1 credit per stage, 80% of it compute cost, 10 credits of stake, half slashed on a fault, and a
 * verifier fee that covers re-executing one of 32 segments with a margin.
 */
export const defaultEconomics: Economics = {
  paymentMicro: 1_000_000n,
  costMicro: 800_000n,
  stakeMicro: 10_000_000n,
  slashBps: 5_000,
  verifierFeeMicro: 31_250n,
};

export interface VerificationSimConfig {
  readonly seed: number;
  readonly stages: number;
  /** How the provider cheats, and on what fraction of its stages (default: never). */
  readonly strategy?: CheatStrategy;
  readonly cheatRate?: number;
  readonly verifiers: { readonly honest: number; readonly lazy?: number; readonly colluding?: number };
  readonly committeeSize?: number;
  readonly canaryRatePpm?: number;
  readonly policy?: SpotPolicyParams;
  readonly economics?: Economics;
  /** The provider stops answering once a dispute opens. */
  readonly silentProvider?: boolean;
  readonly stopAtFirstCatch?: boolean;
  /**
   * Accept honest stages without drawing or re-executing their checks (still recorded as
   * successes). For detection estimates only: an honest stage's check cannot change whether a
   * cheat is caught, and the honest-stage test shows such checks always pass.
   */
  readonly skipHonestChecks?: boolean;
  /** Distinct workloads to draw from (default 16). */
  readonly workloads?: number;
  /** Honest runs to draw workloads from, to share one pool between many short simulations. */
  readonly pool?: readonly StageRun[];
}

export interface VerificationSimReport {
  readonly stages: number;
  readonly cheated: number;
  readonly checks: number;
  readonly cheatedChecked: number;
  /** Cheated stages whose cheat a dispute proved (provider slashed, not paid, stage re-run). */
  readonly caught: number;
  /** 1-based stage of the first catch, if any. */
  readonly firstCatch: number | undefined;
  /** Σ over cheated stages of the per-stage catch probability the policy claims: p × wrong/m. */
  readonly claimedCatches: number;
  /** Σ p(1 − p) of the same: the binomial variance of `caught`. */
  readonly claimedVariance: number;
  /** Checked cheats approved by the committee (every member colluding or lazy). */
  readonly approvedCheats: number;
  /** Checked cheats whose committee consisted only of colluders. */
  readonly capturedCommittees: number;
  readonly honestSlashes: number;
  /** What the requester paid providers: only stages not proven wrong (a caught stage is re-run). */
  readonly requesterPaidMicro: bigint;
  /** Verifier fees paid from escrow, one per committee member per check. */
  readonly verifierFeesMicro: bigint;
  /** Σ over cheated stages of (cost saved − payment and slash lost when caught). */
  readonly cheatGainMicro: bigint;
  /** Provider's payments − compute spent − slashes. */
  readonly providerProfitMicro: bigint;
  readonly verificationSteps: number;
  readonly usefulSteps: number;
  readonly canaries: number;
  /** Lazy verifiers caught by canaries, with the number of checks (incl. canaries) they had done. */
  readonly lazyCaught: ReadonlyArray<{ readonly id: string; readonly afterChecks: number }>;
  /** Verifiers slashed for approving a canary; honest ones never are. */
  readonly verifierSlashes: ReadonlyArray<{ readonly id: string; readonly behaviour: VerifierBehaviour }>;
  readonly disputes: number;
  readonly maxDisputeRounds: number;
  readonly maxRefereeSteps: number;
  readonly meanCheckPpm: number;
}

interface SimVerifier {
  readonly id: string;
  readonly behaviour: VerifierBehaviour;
  checks: number;
}

const providerId = "provider";

function verifiersOf(config: VerificationSimConfig): SimVerifier[] {
  const out: SimVerifier[] = [];
  const add = (n: number | undefined, behaviour: VerifierBehaviour) => {
    for (let i = 0; i < (n ?? 0); i++)
      out.push({ id: `${behaviour}-${String(i).padStart(3, "0")}`, behaviour, checks: 0 });
  };
  add(config.verifiers.honest, "honest");
  add(config.verifiers.lazy, "lazy");
  add(config.verifiers.colluding, "colluding");
  return out;
}

/** A verifier's verdict on segment j of `run`: lazy and colluding ones approve without computing. */
function verdictOf(
  v: SimVerifier,
  run: StageRun,
  j: number,
  forProvider: boolean,
): { verdict: "match" | "mismatch"; check?: SegmentCheck } {
  v.checks++;
  if (v.behaviour === "lazy" || (v.behaviour === "colluding" && forProvider)) return { verdict: "match" };
  const check = checkSegment(run, j);
  return { verdict: check.verdict, check };
}

/** `count` honest runs of random workloads. */
export function workloadPool(rng: SimRandom, count: number): StageRun[] {
  return Array.from({ length: count }, () => honestRun(makeWorkload(rng)));
}

/** Runs the simulation. */
export function simulateVerification(config: VerificationSimConfig): VerificationSimReport {
  const rng = new SimRandom(config.seed);
  const econ = config.economics ?? defaultEconomics;
  const policy = config.policy ?? defaultSpotPolicy;
  const committeeSize = config.committeeSize ?? 1;
  const canaryRate = config.canaryRatePpm ?? 0;
  const pool = config.pool ?? workloadPool(rng, config.workloads ?? 16);
  const active = verifiersOf(config);
  const canarySecret = sha256Hex(utf8(`canary secret ${config.seed}`));
  let reputation: ReputationRecord = emptyReputation;
  const r = {
    cheated: 0,
    checks: 0,
    cheatedChecked: 0,
    caught: 0,
    firstCatch: undefined as number | undefined,
    claimedCatches: 0,
    claimedVariance: 0,
    approvedCheats: 0,
    capturedCommittees: 0,
    honestSlashes: 0,
    requesterPaidMicro: 0n,
    verifierFeesMicro: 0n,
    cheatGainMicro: 0n,
    providerProfitMicro: 0n,
    verificationSteps: 0,
    usefulSteps: 0,
    canaries: 0,
    lazyCaught: [] as { id: string; afterChecks: number }[],
    verifierSlashes: [] as { id: string; behaviour: VerifierBehaviour }[],
    disputes: 0,
    maxDisputeRounds: 0,
    maxRefereeSteps: 0,
    ppmSum: 0,
  };
  let stagesRun = 0;
  for (let i = 0; i < config.stages; i++) {
    stagesRun++;
    const w = rng.int(pool.length);
    const honest = pool[w]!;
    const cheats = config.strategy !== undefined && rng.chance(config.cheatRate ?? 0);
    const run = cheats
      ? cheatingRun(honest.input, config.strategy!, rng, pool[(w + 1) % pool.length]!)
      : honest;
    const segments = run.at.length - 1;
    const costPerStep = econ.costMicro / BigInt(run.steps);
    r.usefulSteps += run.steps;
    // The hash of the log event sequenced after the commitment: unknown when the provider committed.
    const afterCommit = taggedHash("sim-event", utf8(`${config.seed}/${i}/${run.root}`));
    const rate = spotCheckRate(
      {
        paymentMicro: econ.paymentMicro,
        stakeMicro: econ.stakeMicro,
        slashBps: econ.slashBps,
        cheatGainMicro: econ.costMicro,
        verifierFeeMicro: econ.verifierFeeMicro,
        riskPpm: riskPpm(reputation),
      },
      policy,
    );
    r.ppmSum += rate.ppm;
    const stageKey = `s${i}`;
    runCanary(stageKey, afterCommit);
    if (cheats) {
      r.cheated++;
      const q = (rate.ppm / 1e6) * (run.wrongSegments / segments);
      r.claimedCatches += q;
      r.claimedVariance += q * (1 - q);
    }
    let caught = false;
    if (!(config.skipHonestChecks === true && !cheats)) {
      const decision = decideSpotCheck(beacon(afterCommit, `spot/${stageKey}`), rate.ppm, segments);
      if (decision.checked) caught = checkStage(run, decision.segment, afterCommit, stageKey, cheats);
    }
    const spent = BigInt(run.stepsComputed) * costPerStep;
    if (caught) {
      r.caught++;
      r.firstCatch ??= i + 1;
      r.providerProfitMicro -= spent + rate.slashMicro;
      reputation = recordOutcome(reputation, "failure");
      if (!cheats) r.honestSlashes++;
    } else {
      r.providerProfitMicro += econ.paymentMicro - spent;
      r.requesterPaidMicro += econ.paymentMicro;
      reputation = recordOutcome(reputation, "success");
    }
    if (cheats) {
      r.cheatGainMicro += BigInt(run.steps - run.stepsComputed) * costPerStep;
      if (caught) r.cheatGainMicro -= econ.paymentMicro + rate.slashMicro;
    }
    if (caught && config.stopAtFirstCatch === true) break;
  }
  const { ppmSum, ...report } = r;
  return { stages: stagesRun, ...report, meanCheckPpm: ppmSum / stagesRun };

  /** Checks segment j with a committee; returns true when a dispute proved the provider wrong. */
  function checkStage(
    run: StageRun,
    j: number,
    afterCommit: Hex32,
    stageKey: string,
    cheats: boolean,
  ): boolean {
    r.checks++;
    if (cheats) r.cheatedChecked++;
    const ids = selectVerifiers(
      beacon(afterCommit, `verifiers/${stageKey}`),
      active.map((v) => v.id),
      providerId,
      committeeSize,
    );
    const committee = ids.map((id) => active.find((v) => v.id === id)!);
    let dissent: SegmentCheck | undefined;
    // Every member commits its verdict before any is revealed; a reveal must open its commitment.
    const committed = committee.map((v) => {
      const { verdict, check } = verdictOf(v, run, j, true);
      r.verificationSteps += check?.steps ?? 0;
      r.verifierFeesMicro += econ.verifierFeeMicro;
      const reveal: VerdictReveal = {
        verdict,
        salt: sha256Hex(utf8(`${v.id}/${stageKey}/${rng.nextU32()}`)),
        verifier: v.id,
        stage: stageKey,
        // The verifier's hash at the segment's end; a lazy verifier that computed nothing has none.
        computed: [...(check?.mine.values() ?? [])].at(-1) ?? "",
      };
      return { commitment: verdictCommitment(reveal), reveal, check };
    });
    for (const { commitment, reveal, check } of committed) {
      if (!revealMatches(commitment, reveal)) {
        throw new SwitchyardError(
          "INVARIANT_VIOLATED",
          `verdict of ${reveal.verifier} does not open its commitment`,
        );
      }
      if (reveal.verdict === "mismatch") dissent ??= check;
    }
    if (dissent === undefined) {
      if (cheats) {
        r.approvedCheats++;
        if (committee.every((v) => v.behaviour === "colluding")) r.capturedCommittees++;
      }
      return false;
    }
    r.disputes++;
    const d = settleMismatch(run, j, dissent, config.silentProvider === true);
    r.maxDisputeRounds = Math.max(r.maxDisputeRounds, d.rounds);
    r.maxRefereeSteps = Math.max(r.maxRefereeSteps, d.refereeSteps);
    r.verificationSteps += d.refereeSteps;
    return d.outcome.losers.includes("provider");
  }

  /** A canary: an honest run with checkpoint j + 1 replaced by a known wrong hash. */
  function runCanary(stageKey: string, afterCommit: Hex32): void {
    if (canaryRate === 0 || !isCanary(canarySecret, stageKey, canaryRate)) return;
    r.canaries++;
    const base = pool[rng.int(pool.length)]!;
    const j = rng.int(base.at.length - 1);
    const checkpoints = base.checkpoints.map((c, k) =>
      k === j + 1 ? taggedHash("canary-wrong", utf8(c)) : c,
    );
    const canary: StageRun = { ...base, checkpoints };
    const [id] = selectVerifiers(
      beacon(afterCommit, `canary/${stageKey}`),
      active.map((v) => v.id),
      providerId,
      1,
    );
    const v = active.find((x) => x.id === id)!;
    const { verdict, check } = verdictOf(v, canary, j, false);
    r.verificationSteps += check?.steps ?? 0;
    if (verdict === "match") {
      r.verifierSlashes.push({ id: v.id, behaviour: v.behaviour });
      if (v.behaviour === "lazy") r.lazyCaught.push({ id: v.id, afterChecks: v.checks });
      active.splice(active.indexOf(v), 1);
    }
  }
}
