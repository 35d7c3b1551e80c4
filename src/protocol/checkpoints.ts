/**
 * Where a step program's checkpoints fall. Shared by the runtime (which takes them), the core
 * (which turns a spot check's segment into steps and bisects over them) and verifiers.
 */
import { SwitchyardError } from "./errors.ts";

/**
 * The steps at which a run of `steps` steps takes checkpoints: 0, k, 2k, …, and `steps`.
 *
 * @example
 * checkpointSteps(10, 4); // [0, 4, 8, 10]
 */
export function checkpointSteps(steps: number, checkpointEvery: number): number[] {
  if (!Number.isSafeInteger(checkpointEvery) || checkpointEvery < 1) {
    throw new SwitchyardError(
      "MALFORMED",
      `checkpointEvery must be a positive integer, got ${checkpointEvery}`,
    );
  }
  const at: number[] = [];
  for (let s = 0; s < steps; s += checkpointEvery) at.push(s);
  at.push(steps);
  return at;
}
