/**
 * `replicate:k`: k independent providers run the same stage and a quorum of equal roots decides.
 * A dissenting replica is not slashed by the vote — it goes to a bisection dispute against a
 * member of the quorum, because nobody is slashed on anything but a proven fault.
 *
 * For comparison, BOINC's adaptive replication (Anderson, BOINC wiki "AdaptiveReplication";
 * the scheduler's per host-and-app-version `consecutive_valid` count): a host that has not yet
 * returned `threshold` consecutive valid results always gets its job replicated; after that a job
 * is replicated with probability threshold / consecutive_valid, and one invalid result resets the
 * count to 0. The constants follow our reading of that rule (threshold 10).
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

export const boincTrustThreshold = 10;

/**
 * BOINC adaptive replication: the probability (ppm, rounded up) that a job sent to a host with
 * `consecutiveValid` consecutive valid results is replicated.
 *
 * @example
 * adaptiveReplicationPpm(3); // 1_000_000
 * adaptiveReplicationPpm(40); // 250_000
 */
export function adaptiveReplicationPpm(consecutiveValid: number, threshold = boincTrustThreshold): number {
  if (consecutiveValid < threshold) return ppmScale;
  return Math.ceil((threshold * ppmScale) / consecutiveValid);
}

/** The host's count after one more validated result. */
export function nextConsecutiveValid(consecutiveValid: number, valid: boolean): number {
  return valid ? consecutiveValid + 1 : 0;
}
