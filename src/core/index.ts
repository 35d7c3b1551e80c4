/** The public surface of the pure core. Shells import from here, not from slice internals. */
export { decodeState, encodeState, stateHash } from "./codec.ts";
export type { Effect } from "./effects.ts";
export { checkAllInvariants, checkEventInvariants } from "./invariants.ts";
export { legalTransitions, terminalStatuses } from "./jobs/lifecycle.ts";
export { resultOf } from "./jobs/placement.ts";
export type { Handoff, Payout, Progress } from "./jobs/progress.ts";
export { stageCost } from "./jobs/settle.ts";
export { stageReserve, topologicalOrder } from "./jobs/submit.ts";
export * as accounts from "./ledger/accounts.ts";
export { balanceOf } from "./ledger/ledger.ts";
export { type ApplyResult, apply } from "./machine.ts";
export { exclusionReasons } from "./market/match.ts";
export { replay } from "./replay.ts";
export {
  coordinateFromVivaldi,
  predictRtt,
  type RttEndpoint,
  type RttPrediction,
  vivaldiFromCoordinate,
} from "./routing/node-rtt.ts";
export { priceEpochWouldChange } from "./routing/price-epoch.ts";
export {
  geoPriorCoordinate,
  predictedRttMs,
  updateCoordinate,
  type VivaldiCoordinate,
} from "./routing/vivaldi.ts";
export { sequenceEvent } from "./sequence.ts";
export * from "./state.ts";
export { canaryCommitment } from "./verification/canaries-live.ts";
export { disputeSides } from "./verification/check-steps.ts";
