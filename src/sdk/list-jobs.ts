import { z } from "zod";
import { apiPaths, type JobView, jobViewSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

const jobsSchema = z.strictObject({ jobs: z.array(jobViewSchema) });

export interface ListJobsParameters {
  /** Only the jobs of this requester; all jobs when omitted. */
  readonly requester?: PublicKeyHex | string;
}

/** Newest first, at most 100. */
export type ListJobsReturnType = readonly JobView[];

/** UNREACHABLE (coordinator not reachable); MALFORMED (schema); any ApiError code. */
export type ListJobsErrorType = SwitchyardError;

/**
 * The newest jobs (at most 100), optionally of one requester.
 *
 * @example
 * const jobs = await listJobs(client, { requester: identity.publicKey });
 * console.log(jobs.map((j) => `${j.id.slice(0, 8)} ${j.status}`));
 */
export async function listJobs(
  client: Client,
  parameters: ListJobsParameters = {},
): Promise<ListJobsReturnType> {
  const body = await request(client, {
    method: "GET",
    path: apiPaths.jobs,
    endpoint: `GET ${apiPaths.jobs}`,
    query: { requester: parameters.requester },
    schema: jobsSchema,
  });
  return body.jobs;
}
