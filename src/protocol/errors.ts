/**
 * One error base for all of Switchyard, with a closed union of stable codes. The HTTP layer maps
 * codes to statuses in one place; clients branch on `code`, never on `message`.
 */

/** Every stable error code. Adding a code is an API change: document it in docs/errors.md. */
export const errorCodes = [
  // Input that never reaches the state machine.
  "MALFORMED", // not decodable: bad JSON, wrong types, unknown fields
  "TOO_LARGE", // over the size or nesting limit
  "BAD_SIGNATURE",
  "WRONG_NETWORK",
  "WRONG_VERSION",
  "NONCE_REPLAYED", // nonce not strictly greater than the signer's last accepted nonce
  // Rejections by the state machine: the event is valid but not allowed now.
  "UNKNOWN_ACCOUNT",
  "INSUFFICIENT_FUNDS",
  "INSUFFICIENT_STAKE",
  "FAUCET_DISABLED",
  "NODE_EXISTS",
  "UNKNOWN_NODE",
  "UNKNOWN_OFFER",
  "UNKNOWN_JOB",
  "UNKNOWN_STAGE",
  "INVALID_JOB", // DAG with a cycle, unknown dependency, duplicate names
  "NOT_AUTHORIZED", // signer is not the party allowed to do this
  "ILLEGAL_TRANSITION", // stage lifecycle does not allow this step now
  "EXCEEDS_CAPACITY",
  "UNBONDING_NOT_DUE",
  "SEQUENCE_GAP", // log events out of order
  "TIME_REGRESSION",
  // Storage and integrity.
  "CHAIN_BROKEN",
  "STATE_HASH_MISMATCH",
  "STORE_UNAVAILABLE",
  "UNREACHABLE", // a peer (coordinator, agent) could not be reached: the request's outcome is unknown
  "CORRUPTED", // stored bytes no longer match their hash
  "NOT_FOUND",
  "INVARIANT_VIOLATED", // halts: the state machine refuses to continue in a wrong state
  "PROGRAM_FAILED",
  "PROGRAM_LIMIT", // wall-clock or memory limit of a step program exceeded
  "KEYSTORE",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface SwitchyardErrorOptions {
  /** Structured facts for machines and logs (seq numbers, ids, amounts as strings). */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

export class SwitchyardError extends Error {
  override readonly name = "SwitchyardError";
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `e` is a SwitchyardError, optionally with the given code. */
export function isSwitchyardError(e: unknown, code?: ErrorCode): e is SwitchyardError {
  return e instanceof SwitchyardError && (code === undefined || e.code === code);
}
