/**
 * The per-event journal: what one event touched. Invariants are checked against it after every
 * event (value conserved across the touched accounts, nothing negative, legal transitions, each
 * stage settled at most once), which keeps the always-on checks O(touched) rather than O(state).
 */
import type { JobId } from "../../protocol/ids.ts";
import type { StageStatus } from "../state.ts";

export interface Journal {
  /** Balance of each touched account before the event's first posting to it. */
  readonly before: Map<string, bigint>;
  readonly transitions: Array<{
    readonly stage: string;
    readonly from: StageStatus;
    readonly to: StageStatus;
  }>;
  readonly jobs: Set<JobId>;
  readonly offers: Set<string>;
}

export function newJournal(): Journal {
  return { before: new Map(), transitions: [], jobs: new Set(), offers: new Set() };
}
