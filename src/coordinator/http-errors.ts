/** Errors as HTTP responses of the coordinator; the status table is src/protocol/http-status.ts. */
import type { ApiError } from "../protocol/api.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import { httpStatusOf } from "../protocol/http-status.ts";

export { httpStatusOf };

/**
 * Any thrown value as a SwitchyardError. Something that is not one is a bug in the coordinator; it
 * is reported as INVARIANT_VIOLATED without its message, which might leak internals.
 */
export function asSwitchyardError(error: unknown): SwitchyardError {
  if (isSwitchyardError(error)) return error;
  return new SwitchyardError("INVARIANT_VIOLATED", "internal error in the coordinator; see its log", {
    cause: error,
  });
}

/** The JSON body of an error response (apiErrorSchema). */
export function apiErrorOf(error: SwitchyardError): ApiError {
  return { code: error.code, message: error.message, details: jsonDetails(error.details) };
}

/** The status and body for any error. */
export function httpErrorOf(error: unknown): { status: number; body: ApiError } {
  const e = asSwitchyardError(error);
  return { status: httpStatusOf[e.code], body: apiErrorOf(e) };
}

/** Details as JSON: bigints become decimal strings (the wire convention for amounts). */
function jsonDetails(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) out[k] = typeof v === "bigint" ? v.toString() : v;
  return out;
}
