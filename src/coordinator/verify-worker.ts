/**
 * Entry of a signature-verification worker thread (see verifier.ts). Each message is a batch of
 * decoded envelopes; the answer lists, in the same order, null for a valid signature or the
 * serialized SwitchyardError that `verifyEnvelope` raised. The rule is exactly the main thread's:
 * the same function, the same node:crypto adapter.
 */
import { parentPort } from "node:worker_threads";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { type Envelope, verifyEnvelope } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { VerifyReply, VerifyRequest } from "./verifier.ts";

const port = parentPort;
if (port === null) {
  throw new SwitchyardError("INVARIANT_VIOLATED", "coordinator/verify-worker.ts must run in a worker thread");
}

function verdict(env: Envelope): VerifyReply["verdicts"][number] {
  try {
    verifyEnvelope(nodeEd25519, env);
    return null;
  } catch (e) {
    const error = isSwitchyardError(e)
      ? e
      : new SwitchyardError(
          "BAD_SIGNATURE",
          `signature check failed: ${e instanceof Error ? e.message : String(e)}`,
        );
    return error.toJSON();
  }
}

port.on("message", (request: VerifyRequest) => {
  const reply: VerifyReply = { id: request.id, verdicts: request.envelopes.map(verdict) };
  port.postMessage(reply);
});
port.postMessage({ ready: true });
