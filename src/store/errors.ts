/**
 * The errors the store raises, built in one place so every adapter words them alike. Codes are the
 * stable ones of src/protocol/errors.ts; callers branch on `code` and read `details.seq`.
 */
import { SwitchyardError } from "../protocol/errors.ts";
import { sqlState } from "./sql-driver.ts";

/** STORE_UNAVAILABLE: used before open() or after close(). */
export function storeNotOpen(kind: string): SwitchyardError {
  return new SwitchyardError(
    "STORE_UNAVAILABLE",
    `the ${kind} store is not open: call open() first (a closed store stays closed; create a new one)`,
    { details: { store: kind } },
  );
}

/** Wrap a driver failure as STORE_UNAVAILABLE, keeping Switchyard errors raised inside as they are. */
export function storeUnavailable(error: unknown, doing: string): SwitchyardError {
  if (error instanceof SwitchyardError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const state = sqlState(error);
  return new SwitchyardError("STORE_UNAVAILABLE", `${doing} failed: ${reason}`, {
    details: state === undefined ? {} : { sqlstate: state },
    cause: error,
  });
}

/** NOT_FOUND: a snapshot must follow an event that is in the log. */
export function snapshotOfMissingEvent(seq: number): SwitchyardError {
  return new SwitchyardError("NOT_FOUND", `cannot snapshot after event ${seq}: it is not in the log`, {
    details: { seq },
  });
}

/** Two different states after the same event: apply is not deterministic, or a snapshot is corrupt. */
export function conflictingSnapshot(seq: number, stored: string, offered: string): SwitchyardError {
  return new SwitchyardError(
    "STATE_HASH_MISMATCH",
    `a snapshot after event ${seq} already exists with state hash ${stored.slice(0, 12)}…, not ${offered.slice(0, 12)}…`,
    { details: { seq, stored, offered } },
  );
}

/** MALFORMED: a read range that is not a non-negative integer start and a positive limit. */
export function checkReadRange(fromSeq: number, limit: number): void {
  const limitOk = limit === Number.POSITIVE_INFINITY || (Number.isSafeInteger(limit) && limit >= 0);
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 0 || !limitOk) {
    throw new SwitchyardError("MALFORMED", `cannot read from seq ${fromSeq} with limit ${limit}`, {
      details: { fromSeq, limit: String(limit) },
    });
  }
}
