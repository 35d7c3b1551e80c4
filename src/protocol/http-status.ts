/**
 * Error codes → HTTP statuses, in one place (STYLE.md habit 3), shared by every HTTP surface (the
 * coordinator's API, the agents' blob and loop endpoints). The table is a `Record` over every code,
 * so adding a code to errors.ts does not compile until someone decides its status here.
 *
 * The rule behind the choices:
 * - 400: the request cannot be understood as a message for this server (fix the client);
 * - 401: the signature does not verify; 403: the signer may not do this;
 * - 404: the thing the request names does not exist;
 * - 409: valid, but conflicts with the current state — the same message may succeed later or after
 *   another message (funds arrive, the stage moves on); a replayed nonce never will, but it is a
 *   conflict with what the log already holds, which is what 409 means;
 * - 413: over a size or nesting limit; 422: well-formed but semantically invalid whatever the state;
 * - 500: the server or its log is wrong (a bug or tampering); 502: a peer it needed was unreachable;
 *   503: storage is unavailable, the server halted, is stopping or is busy — retry later.
 */
import type { ErrorCode } from "./errors.ts";

export const httpStatusOf: Readonly<Record<ErrorCode, number>> = {
  MALFORMED: 400,
  TOO_LARGE: 413,
  BAD_SIGNATURE: 401,
  WRONG_NETWORK: 400,
  WRONG_VERSION: 400,
  NONCE_REPLAYED: 409,
  UNKNOWN_ACCOUNT: 404,
  INSUFFICIENT_FUNDS: 409,
  INSUFFICIENT_STAKE: 409,
  FAUCET_DISABLED: 403,
  NODE_EXISTS: 409,
  UNKNOWN_NODE: 404,
  UNKNOWN_OFFER: 404,
  UNKNOWN_JOB: 404,
  UNKNOWN_STAGE: 404,
  INVALID_JOB: 422,
  NOT_AUTHORIZED: 403,
  ILLEGAL_TRANSITION: 409,
  EXCEEDS_CAPACITY: 409,
  UNBONDING_NOT_DUE: 409,
  SEQUENCE_GAP: 500,
  TIME_REGRESSION: 500,
  CHAIN_BROKEN: 500,
  STATE_HASH_MISMATCH: 500,
  STORE_UNAVAILABLE: 503,
  UNREACHABLE: 502,
  CORRUPTED: 500,
  NOT_FOUND: 404,
  INVARIANT_VIOLATED: 500,
  PROGRAM_FAILED: 500,
  PROGRAM_LIMIT: 500,
  KEYSTORE: 500,
};
