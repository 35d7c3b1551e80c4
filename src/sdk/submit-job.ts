import type { Receipt } from "../protocol/api.ts";
import type { Envelope, Identity } from "../protocol/envelope.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import { jobIdOf } from "../protocol/hash.ts";
import type { JobId } from "../protocol/ids.ts";
import type { SubmitJob, WireMessageBody } from "../protocol/messages.ts";
import type { Client } from "./create-client.ts";
import { signAndSubmit } from "./sign-and-submit.ts";

export interface SubmitJobParameters {
  /** The requester; the whole budget is locked from its available balance. */
  readonly identity: Identity;
  /** A parsed job spec (`parseJobSpec`) or a submitJob body in wire form. */
  readonly spec: SubmitJob | WireMessageBody<"submitJob">;
}

export interface SubmitJobReturnType {
  readonly jobId: JobId;
  readonly receipt: Receipt;
  readonly envelope: Envelope<"submitJob">;
}

/**
 * INVALID_JOB (cycle, unknown dependency, duplicate names), INSUFFICIENT_FUNDS (budget below the
 * stages' reserve, or balance below the budget), MALFORMED (spec does not fit the schema), or
 * anything {@link signAndSubmit} throws.
 */
export type SubmitJobErrorType = SwitchyardError;

/**
 * Signs and submits a job. The job id is derived as the core derives it — the domain-tagged hash of
 * the requester and the nonce of the submitJob message (src/core/jobs/submit.ts) — so it is known
 * as soon as the receipt arrives, without another request.
 *
 * @example
 * const spec = parseJobSpec(await readFile("examples/seed-pipeline.yaml", "utf8"));
 * const { jobId, receipt } = await submitJob(client, { identity, spec });
 * console.log(`job ${jobId} sequenced at ${receipt.seq}`);
 */
export async function submitJob(
  client: Client,
  parameters: SubmitJobParameters,
): Promise<SubmitJobReturnType> {
  const { receipt, envelope } = await signAndSubmit(client, {
    identity: parameters.identity,
    type: "submitJob",
    body: parameters.spec,
  });
  const jobId = jobIdOf(envelope.signer, envelope.nonce);
  return { jobId, receipt, envelope };
}
