/**
 * Disputes by bisection (Truebit's verification game; Gensyn Verde's refereed delegation), as a
 * pure state machine. Two parties — the provider and a challenger — agree on the hash at one point
 * of the run and disagree at a later one. Each round both state their hash at the midpoint: if
 * they agree there, the agreement moves up; otherwise the disagreement moves down. First over
 * checkpoint indexes, then over single steps inside the divergent segment, until the agreed point
 * and the disputed point are one step apart. A referee then executes that one step from the agreed
 * state: the party whose claim it reproduces wins. Nobody is slashed for anything but a fault the
 * referee's single step (or a missed deadline) proves.
 *
 * Bound: an interval of length L takes ⌈log₂ L⌉ rounds (each round halves it, rounding up), so a
 * dispute over m segments of at most k steps ends in ⌈log₂ m⌉ + ⌈log₂ k⌉ rounds and exactly one
 * single-step re-execution.
 *
 * Deadlines are sequencer time (event.time): a party that has not answered when a round's
 * deadline passes loses; if both are silent, both lose. In the checkpoint phase the provider's
 * answers are checkpoints it already committed to (the shell checks the Merkle proof against its
 * root); in the step phase they are fresh claims, bound by the agreed and disputed ends.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Hex32 } from "../../protocol/ids.ts";

export type DisputeParty = "provider" | "challenger";
export const disputeParties: readonly DisputeParty[] = ["provider", "challenger"];

export interface DisputeOutcome {
  /** The party proven right, or none when both were wrong (or both silent). */
  readonly winner: DisputeParty | "none";
  readonly losers: readonly DisputeParty[];
  readonly reason: "referee" | "silence";
}

export interface DisputeState {
  /** Step of each checkpoint index (runtime's checkpointSteps): 0, k, 2k, …, n. */
  readonly checkpointSteps: readonly number[];
  /** `checkpoints`/`steps`: bisecting; `referee`: one step left to execute; `resolved`: over. */
  readonly phase: "checkpoints" | "steps" | "referee" | "resolved";
  /** The agreed end: a checkpoint index (checkpoint phase) or a step (later phases). */
  readonly lo: number;
  /** The disputed end, in the same unit as `lo`. */
  readonly hi: number;
  /** The hash both parties claim at `lo`. */
  readonly agreed: Hex32;
  /** Each party's (different) hash at `hi`. */
  readonly claims: Readonly<Record<DisputeParty, Hex32>>;
  /** Answers received in the current round. */
  readonly answers: Readonly<Partial<Record<DisputeParty, Hex32>>>;
  readonly rounds: number;
  readonly roundTimeoutMs: number;
  /** Sequencer time by which both parties must answer the current round (or the referee act). */
  readonly deadline: number;
  readonly outcome?: DisputeOutcome;
}

export interface OpenDisputeInput {
  readonly checkpointSteps: readonly number[];
  /** Highest checkpoint index both parties agree on (0 for s0, which anyone can compute). */
  readonly agreedIndex: number;
  readonly agreedHash: Hex32;
  /** A later checkpoint index where they differ (for a spot check: agreedIndex + 1). */
  readonly disputedIndex: number;
  readonly claims: Readonly<Record<DisputeParty, Hex32>>;
  readonly time: number;
  readonly roundTimeoutMs: number;
}

function illegal(message: string, details: Record<string, unknown> = {}): SwitchyardError {
  return new SwitchyardError("ILLEGAL_TRANSITION", message, { details });
}

/**
 * Opens a dispute. MALFORMED if the indexes are out of order or the claims at the disputed index
 * are equal (then there is nothing to dispute).
 *
 * @example
 * const d = openDispute({ checkpointSteps: [0, 4, 8], agreedIndex: 1, agreedHash: c1,
 *   disputedIndex: 2, claims: { provider: c2, challenger: mine }, time, roundTimeoutMs: 60_000 });
 */
export function openDispute(input: OpenDisputeInput): DisputeState {
  const { checkpointSteps: steps, agreedIndex: lo, disputedIndex: hi } = input;
  if (!(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo >= 0 && lo < hi && hi < steps.length)) {
    throw new SwitchyardError("MALFORMED", `a dispute needs 0 ≤ agreed < disputed < ${steps.length}`, {
      details: { agreedIndex: lo, disputedIndex: hi },
    });
  }
  if (input.claims.provider === input.claims.challenger) {
    throw new SwitchyardError("MALFORMED", "both parties claim the same hash: there is nothing to dispute");
  }
  return narrow({
    checkpointSteps: steps,
    phase: "checkpoints",
    lo,
    hi,
    agreed: input.agreedHash,
    claims: input.claims,
    answers: {},
    rounds: 0,
    roundTimeoutMs: input.roundTimeoutMs,
    deadline: input.time + input.roundTimeoutMs,
  });
}

/** Moves to the next phase once the interval is one unit wide. */
function narrow(state: DisputeState): DisputeState {
  if (state.phase === "checkpoints" && state.hi - state.lo === 1) {
    const lo = state.checkpointSteps[state.lo]!;
    const hi = state.checkpointSteps[state.hi]!;
    return narrow({ ...state, phase: "steps", lo, hi });
  }
  if (state.phase === "steps" && state.hi - state.lo === 1) return { ...state, phase: "referee" };
  return state;
}

export type DisputeQuery =
  | { readonly kind: "checkpoint"; readonly index: number }
  | { readonly kind: "step"; readonly step: number }
  | { readonly kind: "referee"; readonly fromStep: number; readonly agreed: Hex32 }
  | { readonly kind: "resolved"; readonly outcome: DisputeOutcome };

/** What the dispute waits for: a hash at a checkpoint index or step, the referee, or nothing. */
export function disputeQuery(state: DisputeState): DisputeQuery {
  const mid = state.lo + Math.floor((state.hi - state.lo) / 2);
  switch (state.phase) {
    case "checkpoints":
      return { kind: "checkpoint", index: mid };
    case "steps":
      return { kind: "step", step: mid };
    case "referee":
      return { kind: "referee", fromStep: state.lo, agreed: state.agreed };
    case "resolved":
      return { kind: "resolved", outcome: state.outcome! };
    default: {
      const never: never = state.phase;
      return never;
    }
  }
}

/**
 * Records `party`'s hash at the queried point. When both have answered, the round closes: agreement
 * moves `lo` up, disagreement moves `hi` down. ILLEGAL_TRANSITION after the deadline (call
 * expireDispute), outside a bisection phase, or for a second answer in one round.
 */
export function answerDispute(
  state: DisputeState,
  party: DisputeParty,
  hash: Hex32,
  time: number,
): DisputeState {
  if (state.phase !== "checkpoints" && state.phase !== "steps") {
    throw illegal(`the dispute is in phase ${state.phase}, not taking answers`, { phase: state.phase });
  }
  if (time > state.deadline)
    throw illegal("the round's deadline has passed", { deadline: state.deadline, time });
  if (state.answers[party] !== undefined) throw illegal(`${party} already answered this round`, { party });
  const answers = { ...state.answers, [party]: hash };
  const { provider, challenger } = answers;
  if (provider === undefined || challenger === undefined) return { ...state, answers };
  const mid = state.lo + Math.floor((state.hi - state.lo) / 2);
  const next: DisputeState =
    provider === challenger
      ? { ...state, lo: mid, agreed: provider }
      : { ...state, hi: mid, claims: { provider, challenger } };
  return narrow({ ...next, answers: {}, rounds: state.rounds + 1, deadline: time + state.roundTimeoutMs });
}

/**
 * Ends a bisection round whose deadline passed before `time`: whoever did not answer loses (both,
 * if neither did). Returns the state unchanged when nothing is overdue.
 */
export function expireDispute(state: DisputeState, time: number): DisputeState {
  if ((state.phase !== "checkpoints" && state.phase !== "steps") || time <= state.deadline) return state;
  const silent = disputeParties.filter((p) => state.answers[p] === undefined);
  const winner = silent.length === 1 ? disputeParties.find((p) => p !== silent[0])! : "none";
  return { ...state, phase: "resolved", outcome: { winner, losers: silent, reason: "silence" } };
}

/**
 * The referee's verdict: `resultHash` is the hash of the state after executing the single step
 * `lo → lo + 1` from the agreed state (whose bytes must hash to `agreed`; the shell checks that).
 * The party whose claim it reproduces wins; if neither does, both were wrong and both lose.
 */
export function refereeDispute(state: DisputeState, resultHash: Hex32): DisputeState {
  if (state.phase !== "referee") throw illegal(`the dispute is in phase ${state.phase}, not at the referee`);
  const right = disputeParties.filter((p) => state.claims[p] === resultHash);
  const outcome: DisputeOutcome =
    right.length === 1
      ? { winner: right[0]!, losers: disputeParties.filter((p) => p !== right[0]), reason: "referee" }
      : { winner: "none", losers: disputeParties, reason: "referee" };
  return { ...state, phase: "resolved", outcome };
}

/** ⌈log₂ m⌉ + ⌈log₂ k⌉: the most rounds a dispute over m segments of at most k steps takes. */
export function disputeRoundBound(segments: number, stepsPerSegment: number): number {
  return ceilLog2(segments) + ceilLog2(stepsPerSegment);
}

function ceilLog2(x: number): number {
  let r = 0;
  while (2 ** r < x) r++;
  return r;
}
