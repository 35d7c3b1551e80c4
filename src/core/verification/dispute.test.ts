import assert from "node:assert/strict";
import { test } from "node:test";
import type { Hex32 } from "../../protocol/ids.ts";
import { checkpointHash, checkpointSteps } from "../../runtime/program.ts";
import { type QaoaMaxCutState, qaoaMaxCut } from "../../runtime/programs/qaoa-maxcut.ts";
import {
  answerDispute,
  type DisputeParty,
  type DisputeState,
  disputeQuery,
  disputeRoundBound,
  expireDispute,
  openDispute,
  refereeDispute,
} from "./dispute.ts";

// Real step programs: the parties' claims are hashes of real QAOA states, and the referee really
// executes the one step the bisection isolates.
const input = {
  graph: {
    nodes: 6,
    edges: [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
      [5, 0],
      [0, 3],
    ] as [number, number][],
  },
  angles: { gammas: [0.4, 0.7, 0.2], betas: [0.5, 0.2, 0.9] },
};
const steps = qaoaMaxCut.stepCount(input); // 3 × 7 = 21

/** Every state of a run; from `divergeAt` on, one amplitude is nudged once and the run continues. */
function trace(divergeAt?: number): QaoaMaxCutState[] {
  const states = [qaoaMaxCut.init(input)];
  for (let i = 0; i < steps; i++) {
    let next = qaoaMaxCut.step(states[i]!);
    if (i + 1 === divergeAt) {
      const re = Float32Array.from(next.vector.re);
      re[3] = Math.fround(re[3]! + 0.001);
      next = { ...next, vector: { ...next.vector, re } };
    }
    states.push(next);
  }
  return states;
}
const hashes = (states: QaoaMaxCutState[]): Hex32[] => states.map((s, i) => checkpointHash(qaoaMaxCut, i, s));
const honest = hashes(trace());

interface Played {
  readonly final: DisputeState;
  readonly refereeSteps: number;
}

/** Plays a full dispute: both parties answer from their traces; the referee runs one real step. */
function play(every: number, cheat: Hex32[], silentFrom?: { party: DisputeParty; round: number }): Played {
  const at = checkpointSteps(steps, every);
  const provider = cheat;
  const challenger = honest;
  const firstBad = at.findIndex((s) => provider[s] !== challenger[s]);
  let d = openDispute({
    checkpointSteps: at,
    agreedIndex: 0,
    agreedHash: honest[0]!,
    disputedIndex: at.length - 1,
    claims: { provider: provider[steps]!, challenger: challenger[steps]! },
    time: 1_000,
    roundTimeoutMs: 100,
  });
  assert.ok(firstBad > 0);
  let time = 1_000;
  let refereeSteps = 0;
  for (;;) {
    const q = disputeQuery(d);
    if (q.kind === "resolved") return { final: d, refereeSteps };
    if (q.kind === "referee") {
      const state = trace()[q.fromStep]!;
      assert.equal(
        checkpointHash(qaoaMaxCut, q.fromStep, state),
        q.agreed,
        "the referee starts from the agreed state",
      );
      refereeSteps++;
      d = refereeDispute(d, checkpointHash(qaoaMaxCut, q.fromStep + 1, qaoaMaxCut.step(state)));
      continue;
    }
    const step = q.kind === "checkpoint" ? at[q.index]! : q.step;
    time += 10;
    const round = d.rounds;
    let answered = 0;
    for (const party of ["provider", "challenger"] as const) {
      if (silentFrom?.party === party && round >= silentFrom.round) continue;
      d = answerDispute(d, party, (party === "provider" ? provider : challenger)[step]!, time);
      answered++;
    }
    if (answered < 2) d = expireDispute(d, time + 101);
  }
}

test("bisection finds the divergent step: the referee's one step proves the cheat, within the round bound", () => {
  for (const every of [1, 2, 3, 4, 5, 7, 21]) {
    const segments = checkpointSteps(steps, every).length - 1;
    for (let divergeAt = 1; divergeAt <= steps; divergeAt++) {
      const { final, refereeSteps } = play(every, hashes(trace(divergeAt)));
      assert.deepEqual(final.outcome, { winner: "challenger", losers: ["provider"], reason: "referee" });
      assert.equal(refereeSteps, 1, "exactly one single-step re-execution");
      assert.ok(final.rounds <= disputeRoundBound(segments, every), `rounds ${final.rounds}`);
      assert.equal(final.lo + 1, divergeAt, "the isolated step is the first divergent one");
    }
  }
});

test("the round bound is tight: some dispute needs every one of ⌈log₂ m⌉ + ⌈log₂ k⌉ rounds", () => {
  const every = 4; // 6 segments (last of 1 step) → ⌈log₂ 6⌉ + ⌈log₂ 4⌉ = 5
  let worst = 0;
  for (let divergeAt = 1; divergeAt <= steps; divergeAt++) {
    worst = Math.max(worst, play(every, hashes(trace(divergeAt))).final.rounds);
  }
  assert.equal(disputeRoundBound(6, 4), 5);
  assert.equal(worst, 5);
});

test("a wrong challenger loses to an honest provider", () => {
  // Swap roles: the honest run is the provider's, the challenger claims a diverged one.
  const cheat = hashes(trace(9));
  const at = checkpointSteps(steps, 3);
  let d = openDispute({
    checkpointSteps: at,
    agreedIndex: 0,
    agreedHash: honest[0]!,
    disputedIndex: at.length - 1,
    claims: { provider: honest[steps]!, challenger: cheat[steps]! },
    time: 0,
    roundTimeoutMs: 100,
  });
  for (let t = 1; disputeQuery(d).kind !== "referee"; t++) {
    const q = disputeQuery(d);
    const step = q.kind === "checkpoint" ? at[q.index]! : q.kind === "step" ? q.step : -1;
    d = answerDispute(answerDispute(d, "provider", honest[step]!, t), "challenger", cheat[step]!, t);
  }
  const from = trace()[d.lo]!;
  d = refereeDispute(d, checkpointHash(qaoaMaxCut, d.lo + 1, qaoaMaxCut.step(from)));
  assert.deepEqual(d.outcome, { winner: "provider", losers: ["challenger"], reason: "referee" });
});

test("silence loses: a party that stops answering mid-dispute loses at the deadline", () => {
  for (const party of ["provider", "challenger"] as const) {
    const { final, refereeSteps } = play(2, hashes(trace(13)), { party, round: 2 });
    assert.equal(refereeSteps, 0);
    assert.deepEqual(final.outcome, {
      winner: party === "provider" ? "challenger" : "provider",
      losers: [party],
      reason: "silence",
    });
  }
});

test("error: answers after the deadline, twice in a round, or outside bisection are refused", () => {
  const at = checkpointSteps(steps, 4);
  const d = openDispute({
    checkpointSteps: at,
    agreedIndex: 0,
    agreedHash: honest[0]!,
    disputedIndex: 2,
    claims: { provider: honest[8]!, challenger: honest[7]! },
    time: 0,
    roundTimeoutMs: 100,
  });
  assert.throws(() => answerDispute(d, "provider", honest[4]!, 101), { code: "ILLEGAL_TRANSITION" });
  const once = answerDispute(d, "provider", honest[4]!, 50);
  assert.throws(() => answerDispute(once, "provider", honest[4]!, 60), { code: "ILLEGAL_TRANSITION" });
  assert.equal(expireDispute(once, 100), once, "nothing is overdue at the deadline itself");
  assert.deepEqual(expireDispute(d, 101).outcome, {
    winner: "none",
    losers: ["provider", "challenger"],
    reason: "silence",
  });
  assert.throws(() => refereeDispute(d, honest[1]!), { code: "ILLEGAL_TRANSITION" });
  assert.throws(
    () =>
      openDispute({
        ...{ checkpointSteps: at, agreedIndex: 2, agreedHash: honest[0]!, disputedIndex: 1 },
        claims: { provider: honest[1]!, challenger: honest[2]! },
        time: 0,
        roundTimeoutMs: 1,
      }),
    { code: "MALFORMED" },
  );
});
