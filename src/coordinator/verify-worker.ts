/**
 * Entry of a crypto worker thread (see verifier.ts). Each message is a batch: envelopes to verify
 * and receipts to sign. The answer lists, in the same order, each envelope's verdict (the canonical
 * JSON of its log payload, or the serialized SwitchyardError that `verifyEnvelope` raised) and the
 * signed receipts. The rules are
 * exactly the main thread's: the same functions, the same node:crypto adapter.
 */
import { parentPort, workerData } from "node:worker_threads";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { signReceipt } from "./receipts.ts";
import {
  type CryptoReply,
  type CryptoRequest,
  type CryptoSetup,
  serializeVerdict,
  verifyHere,
} from "./verifier.ts";

const port = parentPort;
if (port === null) {
  throw new SwitchyardError("INVARIANT_VIOLATED", "coordinator/verify-worker.ts must run in a worker thread");
}
const { identity } = workerData as CryptoSetup;

port.on("message", (request: CryptoRequest) => {
  const reply: CryptoReply = {
    id: request.id,
    verdicts: request.verify.map((env) => serializeVerdict(verifyHere(env))),
    receipts: request.sign.map((fields) => signReceipt(nodeEd25519, identity, fields)),
  };
  port.postMessage(reply);
});
port.postMessage({ ready: true });
