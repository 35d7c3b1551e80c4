/**
 * Shell-level admission: conditions a message must meet before it is sequenced that the pure core
 * cannot check, because they are about bytes outside the log.
 *
 * `revealState` (docs/verification.md §9): a provider answering a `withheld` verdict names the
 * checked segment's start state. The coordinator sequences it only if it holds those bytes in its
 * blob cache (so the verifier can fetch them) and they are the state the committed checkpoint names
 * (hashed as the runtime hashes checkpoints; for a sealed stage, whose bytes it cannot open, only
 * presence). So a revealed state is never missing (nor, unsealed, wrong), and a verifier cannot
 * claim it was withheld twice.
 */
import type { State } from "../core/index.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { JobId } from "../protocol/ids.ts";
import { hashStateBytes } from "../runtime/program.ts";
import type { BlobCache } from "./blob-cache.ts";

export function admitWithBlobs(blobs: BlobCache): (env: Envelope, state: State) => void {
  return (env, state) => {
    if (env.type !== "revealState") return;
    const body = env.body;
    const job = state.jobs.get(body.jobId as JobId);
    const stage = job?.stages.get(body.stage);
    const check = stage?.check;
    if (stage === undefined || check?.fromStep === undefined) return; // apply gives the typed refusal
    let bytes: Uint8Array;
    try {
      bytes = blobs.get(body.state).bytes;
    } catch {
      throw new SwitchyardError(
        "NOT_FOUND",
        `upload the state to PUT /v1/blobs/${body.state} before revealing it`,
        { details: { cid: body.state } },
      );
    }
    // A sealed job's state is ciphertext the coordinator cannot open: it vouches for presence only,
    // and the verifier, which holds the stage key, checks the hash.
    if (job?.sealed === true && stage.spec.jurisdictions !== undefined) return;
    if (hashStateBytes(stage.spec.program, check.fromStep, bytes) !== body.agreed.hash) {
      throw new SwitchyardError(
        "STATE_HASH_MISMATCH",
        `the uploaded state is not checkpoint ${check.segment} of ${stage.spec.name}`,
        { details: { cid: body.state } },
      );
    }
  };
}
