import { apiPaths, type Receipt, receiptSchema } from "../protocol/api.ts";
import { type Envelope, encodeEnvelope } from "../protocol/envelope.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

export interface SubmitEnvelopeParameters {
  /** A signed envelope (from `signEnvelope`), or its wire JSON form. */
  readonly envelope: Envelope | Readonly<Record<string, unknown>>;
}

/** The coordinator's signed acknowledgement that the message is durable at `seq`. */
export type SubmitEnvelopeReturnType = Receipt;

/**
 * The rejection the coordinator returned (its stable code: NONCE_REPLAYED, BAD_SIGNATURE,
 * INSUFFICIENT_FUNDS, …), STORE_UNAVAILABLE with `details.unreachable` when it could not be
 * reached — then the outcome is unknown: read the account's nonce before re-signing — or
 * MALFORMED when its answer is not a receipt.
 */
export type SubmitEnvelopeErrorType = SwitchyardError;

/**
 * POSTs a signed envelope to /v1/messages and returns the receipt. Nothing is retried: a message
 * is either acknowledged (durable) or refused with a typed error that changed nothing.
 *
 * @example
 * const env = signEnvelope(nobleEd25519, identity, "dev", 1n, "faucet", { amount: "1000000" });
 * const receipt = await submitEnvelope(client, { envelope: env });
 * console.log(receipt.seq, receipt.hash);
 */
export async function submitEnvelope(
  client: Client,
  parameters: SubmitEnvelopeParameters,
): Promise<SubmitEnvelopeReturnType> {
  const { envelope } = parameters;
  const wire = typeof envelope["nonce"] === "bigint" ? encodeEnvelope(envelope as Envelope) : envelope;
  return request(client, {
    method: "POST",
    path: apiPaths.messages,
    endpoint: `POST ${apiPaths.messages}`,
    body: wire,
    schema: receiptSchema,
  });
}
