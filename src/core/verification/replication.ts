/**
 * `replicate:k`: k independent providers run the same stage and a quorum of equal roots decides.
 * A dissenting replica is not slashed by the vote — it goes to a bisection dispute against a
 * member of the quorum, because nobody is slashed on anything but a proven fault.
 *
 * For comparison, BOINC's adaptive replication, checked against the BOINC/boinc sources and the
 * BOINC wiki page "AdaptiveReplication" (policy section):
 * - the count is `consecutive_valid`, kept per host and app version (`HOST_APP_VERSION` in
 *   db/boinc_db_types.h, whose comment defines it as the run of validated replicated results,
 *   zeroed by a timeout, an error or an invalid result);
 * - sched/sched_send.cpp `set_trust`: below `CONS_VALID_UNREPLICATED` (10, sched/sched_config.h)
 *   the host is not trusted; otherwise it is trusted when a uniform draw exceeds
 *   1 / consecutive_valid. An untrusted host's job is replicated (`add_result_to_reply` raises the
 *   workunit's target_nresults and min_quorum to the app's, 2 in the wiki's setup), so a job is
 *   replicated with probability 1 / consecutive_valid (not threshold / consecutive_valid). There
 *   is no floor on that rate and no cap on the count: the rate falls as 1/n while the host stays
 *   valid;
 * - sched/validator.cpp `is_valid` adds one only when the workunit was replicated (a trusted, single
 *   result counts for nothing, so the count grows more slowly as trust rises); `is_invalid` sets
 *   it to 0, and so do a client error (sched/sched_result.cpp `got_bad_result`) and a deadline
 *   miss (sched/transitioner.cpp `result_timed_out`).
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { ppmScale } from "./beacon.ts";

export interface ReplicaResult {
  readonly provider: string;
  readonly root: Hex32;
}

export type QuorumOutcome =
  | {
      readonly kind: "agreed";
      readonly root: Hex32;
      readonly agreeing: readonly string[];
      readonly dissenting: readonly string[];
    }
  | { readonly kind: "no-quorum"; readonly largest: number };

/**
 * The root that at least `quorum` replicas committed, with who agreed and who dissented. `quorum`
 * must be a strict majority of the replicas so two roots can never both win.
 *
 * @example
 * replicationQuorum([{ provider: "a", root: r }, { provider: "b", root: r }], 2); // agreed on r
 */
export function replicationQuorum(results: readonly ReplicaResult[], quorum: number): QuorumOutcome {
  if (!Number.isSafeInteger(quorum) || quorum * 2 <= results.length || quorum > results.length) {
    throw new SwitchyardError("MALFORMED", `quorum ${quorum} is not a strict majority of ${results.length}`);
  }
  const byRoot = new Map<Hex32, string[]>();
  for (const r of results) byRoot.set(r.root, [...(byRoot.get(r.root) ?? []), r.provider]);
  let largest = 0;
  for (const [root, agreeing] of byRoot) {
    largest = Math.max(largest, agreeing.length);
    if (agreeing.length >= quorum) {
      const dissenting = results.filter((r) => r.root !== root).map((r) => r.provider);
      return { kind: "agreed", root, agreeing, dissenting };
    }
  }
  return { kind: "no-quorum", largest };
}

/** BOINC's `CONS_VALID_UNREPLICATED` (sched/sched_config.h): below it, every job is replicated. */
export const boincTrustThreshold = 10;

/**
 * BOINC adaptive replication: the probability (ppm, rounded up) that a job sent to a host with
 * `consecutiveValid` consecutive valid replicated results is replicated — always below
 * `threshold`, then 1 / consecutiveValid.
 *
 * @example
 * adaptiveReplicationPpm(9); // 1_000_000
 * adaptiveReplicationPpm(10); // 100_000
 * adaptiveReplicationPpm(40); // 25_000
 */
export function adaptiveReplicationPpm(consecutiveValid: number, threshold = boincTrustThreshold): number {
  if (!Number.isSafeInteger(consecutiveValid) || consecutiveValid < 0) {
    throw new SwitchyardError("MALFORMED", `consecutive valid count ${consecutiveValid} is not a count`);
  }
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new SwitchyardError("MALFORMED", `trust threshold ${threshold} must be a positive integer`);
  }
  if (consecutiveValid < threshold) return ppmScale;
  return Math.ceil(ppmScale / consecutiveValid);
}

/** How a host's result turned out, as BOINC's count sees it. */
export interface ValidatedResult {
  /** False for an invalid result, a client error or a missed deadline: each resets the count. */
  readonly valid: boolean;
  /** Whether the job was replicated, i.e. the result was compared with another host's. */
  readonly replicated: boolean;
}

/**
 * The host's count after one more result: +1 for a valid replicated result, unchanged for a valid
 * unreplicated one (nothing checked it), 0 after an invalid result, error or timeout.
 *
 * @example
 * nextConsecutiveValid(40, { valid: true, replicated: false }); // 40
 */
export function nextConsecutiveValid(consecutiveValid: number, result: ValidatedResult): number {
  if (!result.valid) return 0;
  return result.replicated ? consecutiveValid + 1 : consecutiveValid;
}
