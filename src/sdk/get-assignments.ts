import { z } from "zod";
import { type Assignment, apiPaths, assignmentSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

const assignmentsSchema = z.strictObject({ assignments: z.array(assignmentSchema) });

export interface GetAssignmentsParameters {
  /** The provider's public key (its node id). */
  readonly provider: PublicKeyHex | string;
}

/** Open work of the provider: stages matched to it or running on it. */
export type GetAssignmentsReturnType = readonly Assignment[];

/** UNREACHABLE (coordinator not reachable); MALFORMED (schema); any ApiError code. */
export type GetAssignmentsErrorType = SwitchyardError;

/**
 * A provider's open assignments. Agents call it after every (re)connect of the assignment stream,
 * so an assignment sequenced while they were away is not missed.
 *
 * @example
 * const open = await getAssignments(client, { provider: identity.publicKey });
 * for (const a of open) console.log(a.jobId, a.stage, a.status);
 */
export async function getAssignments(
  client: Client,
  parameters: GetAssignmentsParameters,
): Promise<GetAssignmentsReturnType> {
  const body = await request(client, {
    method: "GET",
    path: apiPaths.assignments.replace(":key", encodeURIComponent(parameters.provider)),
    endpoint: `GET ${apiPaths.assignments}`,
    schema: assignmentsSchema,
  });
  return body.assignments;
}
