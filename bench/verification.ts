/**
 * `npm run bench -- verification`: what verification costs and what it catches (issue 4).
 *
 * - overhead_fraction (verification compute ÷ useful compute, in steps of a real program) for the
 *   `spot` policy (with 5% canaries), for `replicate-2`, and for BOINC's adaptive replication as the
 *   baseline measured in the same run;
 * - detection: the probability (simulated, and the lower bound the floor alone guarantees) that a provider cheating (full cheat) on a fraction of its stages
 *   is caught within 1,000 stages, over many independent trials;
 * - expected_profit_micro: a cheat's expected gain over honest work per cheated stage, for every
 *   strategy (must be negative);
 * - honest_slashes over 10,000 honest stages.
 */
import { beacon, chancePpm } from "../src/core/verification/beacon.ts";
import { defaultCanaryRatePpm } from "../src/core/verification/canaries.ts";
import { defaultSpotPolicy } from "../src/core/verification/policy.ts";
import {
  adaptiveReplicationPpm,
  nextConsecutiveValid,
  replicationQuorum,
} from "../src/core/verification/replication.ts";
import { sha256Hex } from "../src/protocol/hash.ts";
import { SimRandom } from "../src/sim/random.ts";
import { simulateVerification, workloadPool } from "../src/sim/verification/simulate.ts";
import { cheatStrategies } from "../src/sim/verification/workload.ts";
import type { BenchLine, BenchSuite } from "./lib.ts";

const bench = "verification";
const line = (
  metric: string,
  value: number,
  unit: string,
  labels: Record<string, string | number>,
): BenchLine => ({
  bench,
  metric,
  value,
  unit,
  ...labels,
});

export const verificationSuite: BenchSuite = async (log) => {
  const pool = workloadPool(new SimRandom(1), 16);
  const segments = pool[0]!.at.length - 1;

  // Spot checks: an honest provider from its first stage (newcomer rate) on, with canaries.
  const stages = 10_000;
  const honest = simulateVerification({
    seed: 1,
    stages,
    pool,
    verifiers: { honest: 20 },
    canaryRatePpm: defaultCanaryRatePpm,
  });
  log(
    line("overhead_fraction", honest.verificationSteps / honest.usefulSteps, "ratio", {
      policy: "spot",
      stages,
      segments,
      mean_check_ppm: Math.round(honest.meanCheckPpm),
    }),
  );
  log(line("honest_slashes", honest.honestSlashes, "count", { stages, checks: honest.checks }));

  // replicate:2 — every stage runs twice and the two roots must agree (quorum 2 of 2).
  let replicaSteps = 0;
  let useful = 0;
  for (let i = 0; i < stages; i++) {
    const run = pool[i % pool.length]!;
    const out = replicationQuorum(
      [
        { provider: "a", root: run.root },
        { provider: "b", root: run.root },
      ],
      2,
    );
    if (out.kind !== "agreed") throw new Error("honest replicas disagreed");
    useful += run.steps;
    replicaSteps += run.steps;
  }
  log(line("overhead_fraction", replicaSteps / useful, "ratio", { policy: "replicate-2", stages }));

  // BOINC adaptive replication over 100 hosts × 1,000 jobs, hosts erring on 0.1% of results. Each
  // host's count moves only with its own jobs: the replica's partner host, whose count BOINC also
  // raises, is not modelled, so this slightly overstates BOINC's overhead.
  const hosts = 100;
  const jobsPerHost = 1_000;
  const rng = new SimRandom(2);
  let replicated = 0;
  for (let h = 0; h < hosts; h++) {
    let consecutive = 0;
    for (let j = 0; j < jobsPerHost; j++) {
      const seed = beacon(sha256Hex(new Uint8Array([h, j & 255, j >> 8])), "adaptive");
      const isReplicated = chancePpm(seed, adaptiveReplicationPpm(consecutive));
      if (isReplicated) replicated++;
      consecutive = nextConsecutiveValid(consecutive, {
        valid: !rng.chance(0.001),
        replicated: isReplicated,
      });
    }
  }
  log(
    line("overhead_fraction", replicated / (hosts * jobsPerHost), "ratio", {
      policy: "adaptive-replication",
      hosts,
      jobs_per_host: jobsPerHost,
      host_error_rate: 0.001,
    }),
  );

  // Detection within 1,000 stages: independent trials of a provider that starts fresh and cheats
  // (commits made-up results) on each stage with probability cheat_rate.
  const trials = 20_000;
  for (const cheatRate of [0.01, 0.1, 1]) {
    let caught = 0;
    for (let t = 0; t < trials; t++) {
      const r = simulateVerification({
        seed: 1_000 + t,
        stages: 1_000,
        pool,
        strategy: "wrong-result",
        cheatRate,
        verifiers: { honest: 20 },
        skipHonestChecks: true,
        stopAtFirstCatch: true,
      });
      if (r.caught > 0) caught++;
    }
    const p = caught / trials;
    // What the floor alone guarantees: each stage is a cheat checked with probability ≥ r·floor.
    const bound = 1 - (1 - cheatRate * (defaultSpotPolicy.floorPpm / 1e6)) ** 1_000;
    log(
      line("detection_lower_bound", bound, "probability", { cheat_rate: String(cheatRate), stages: 1_000 }),
    );
    log(
      line("detection", p, "probability", {
        cheat_rate: String(cheatRate),
        stages: 1_000,
        trials,
        standard_error: Math.sqrt((p * (1 - p)) / trials),
      }),
    );
  }

  // Expected gain of cheating over honest work, per cheated stage, for each strategy.
  for (const strategy of cheatStrategies) {
    const r = simulateVerification({
      seed: 7,
      stages: 5_000,
      pool,
      strategy,
      cheatRate: 0.1,
      verifiers: { honest: 20 },
    });
    log(
      line("expected_profit_micro", Number(r.cheatGainMicro) / r.cheated, "micro-credits per cheated stage", {
        strategy,
        cheated: r.cheated,
        caught: r.caught,
      }),
    );
  }
};
