import { apiPaths, type JobView, jobViewSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { JobId } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

export interface GetJobParameters {
  readonly id: JobId | string;
}

export type GetJobReturnType = JobView;

/** UNKNOWN_JOB when there is no such job; UNREACHABLE (coordinator not reachable); MALFORMED (schema). */
export type GetJobErrorType = SwitchyardError;

/**
 * One job: budget, escrow, status and every stage with its provider, price, status, deadline,
 * committed root and output, payment and any no-match explanation.
 *
 * @example
 * const job = await getJob(client, { id: jobId });
 * for (const s of job.stages) console.log(s.name, s.status, s.provider);
 */
export async function getJob(client: Client, parameters: GetJobParameters): Promise<GetJobReturnType> {
  return request(client, {
    method: "GET",
    path: apiPaths.job.replace(":id", encodeURIComponent(parameters.id)),
    endpoint: `GET ${apiPaths.job}`,
    schema: jobViewSchema,
  });
}
