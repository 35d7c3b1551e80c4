import assert from "node:assert/strict";
import { test } from "node:test";
import { captureProbabilityPpm } from "../../core/verification/committee.ts";
import { disputeRoundBound } from "../../core/verification/dispute.ts";
import { defaultEconomics, simulateVerification } from "./simulate.ts";
import { cheatStrategies } from "./workload.ts";

// Statistical tests compare a count with its expectation and fail beyond 4 binomial standard
// errors (two-sided P ≈ 6e-5 per assertion for a correct implementation); runs are seeded, so a
// pass or a failure reproduces exactly.
const sigmas = 4;
// A lower floor than the default so that checks are genuinely uncertain (p ≈ 0.2–0.3 once the
// provider has history) and the catch rate is a real measurement, not "always".
const uncertain = { floorPpm: 200_000, marginPpm: 250_000, newcomerPpm: 1_000_000 };

for (const strategy of cheatStrategies) {
  test(`${strategy}: the cheater is caught as often as the policy claims, loses stake, and is not paid for proven cheats`, () => {
    const stages = 3_000;
    const r = simulateVerification({
      seed: 11,
      stages,
      strategy,
      cheatRate: 0.05,
      verifiers: { honest: 20 },
      policy: uncertain,
    });
    assert.ok(r.cheated > 100 && r.caught > 10, `cheated ${r.cheated}, caught ${r.caught}`);
    const tolerance = sigmas * Math.sqrt(r.claimedVariance);
    assert.ok(
      Math.abs(r.caught - r.claimedCatches) <= tolerance,
      `caught ${r.caught}, policy claims ${r.claimedCatches.toFixed(1)} ± ${tolerance.toFixed(1)}`,
    );
    assert.equal(r.honestSlashes, 0);
    assert.ok(r.cheatGainMicro < 0n, `cheating gained ${r.cheatGainMicro} micro-credits`);
    assert.equal(r.requesterPaidMicro, BigInt(stages - r.caught) * defaultEconomics.paymentMicro);
    const honestProfit = BigInt(stages) * (defaultEconomics.paymentMicro - defaultEconomics.costMicro);
    assert.ok(r.providerProfitMicro < honestProfit, "cheating must earn less than honest work");
  });
}

test("no honest provider is slashed across 10,000 honest stages, every check re-executed for real", () => {
  const r = simulateVerification({
    seed: 5,
    stages: 10_000,
    verifiers: { honest: 20 },
    canaryRatePpm: 50_000,
  });
  assert.equal(r.honestSlashes, 0);
  assert.equal(r.caught, 0);
  assert.equal(r.disputes, 0);
  assert.deepEqual(r.verifierSlashes, [], "an honest verifier never approves a canary");
  assert.ok(
    r.checks > 4_000 && r.verificationSteps >= 2 * r.checks,
    `checks ${r.checks}, steps ${r.verificationSteps}`,
  );
  assert.ok(r.canaries > 400);
  assert.equal(r.verifierFeesMicro, BigInt(r.checks) * defaultEconomics.verifierFeeMicro);
});

test("lazy verifiers are caught by canaries and ejected; honest verifiers are not", () => {
  const rate = 50_000;
  const r = simulateVerification({
    seed: 9,
    stages: 6_000,
    verifiers: { honest: 10, lazy: 10 },
    canaryRatePpm: rate,
  });
  assert.equal(r.lazyCaught.length, 10, "every lazy verifier is caught");
  assert.ok(r.verifierSlashes.every((s) => s.behaviour === "lazy"));
  // A lazy verifier is caught at its first canary; with p ≥ 0.75 checks and 0.05 canaries per
  // stage, a canary is ≥ 1/16 of its assignments, so it lasts ~16 assignments on average and
  // survives 300 with probability below (1 − 1/16)^300 ≈ 4e-9.
  for (const l of r.lazyCaught) assert.ok(l.afterChecks <= 300, `${l.id} lasted ${l.afterChecks} checks`);
});

test("collusion succeeds no more often than the committee-capture probability", () => {
  for (const [size, colluding] of [
    [1, 1],
    [2, 4],
  ] as const) {
    const eligible = 20;
    const r = simulateVerification({
      seed: 21 + size,
      stages: 3_000,
      strategy: "wrong-result",
      cheatRate: 1,
      verifiers: { honest: eligible - colluding, colluding },
      committeeSize: size,
    });
    const capture = captureProbabilityPpm(eligible, colluding, size) / 1e6;
    const n = r.cheatedChecked;
    const se = Math.sqrt((capture * (1 - capture)) / n);
    const observed = r.approvedCheats / n;
    assert.equal(r.approvedCheats, r.capturedCommittees, "only a fully captured committee approves a cheat");
    assert.ok(
      Math.abs(observed - capture) <= sigmas * se,
      `size ${size}: approved ${observed.toFixed(4)} of checked cheats, capture ${capture.toFixed(4)} ± ${(sigmas * se).toFixed(4)}`,
    );
  }
});

test("silence loses: a provider that stops answering in the dispute is slashed without a referee step", () => {
  const r = simulateVerification({
    seed: 3,
    stages: 1_000,
    strategy: "skipped-steps",
    cheatRate: 0.2,
    verifiers: { honest: 10 },
    silentProvider: true,
  });
  assert.ok(r.disputes > 20);
  assert.equal(r.caught, r.disputes);
  assert.equal(r.maxRefereeSteps, 0);
});

test("spot-check disputes stay within the round bound and one referee step", () => {
  const r = simulateVerification({
    seed: 4,
    stages: 1_000,
    strategy: "skipped-steps",
    cheatRate: 0.2,
    verifiers: { honest: 10 },
  });
  assert.ok(r.disputes > 20);
  assert.equal(r.caught, r.disputes, "every dispute over a skipped segment is won by the verifier");
  assert.equal(r.maxRefereeSteps, 1);
  assert.ok(r.maxDisputeRounds <= disputeRoundBound(1, 2));
});

test("a seed reproduces a run exactly", () => {
  const config = {
    seed: 77,
    stages: 300,
    strategy: "skipped-steps",
    cheatRate: 0.3,
    verifiers: { honest: 5, lazy: 2 },
    canaryRatePpm: 100_000,
    workloads: 4,
  } as const;
  assert.deepEqual(simulateVerification(config), simulateVerification(config));
  assert.notDeepEqual(simulateVerification(config), simulateVerification({ ...config, seed: 78 }));
});
