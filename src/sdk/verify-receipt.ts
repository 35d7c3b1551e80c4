import type { Receipt } from "../protocol/api.ts";
import { verifyReceipt as verifyReceiptBytes } from "../protocol/receipt.ts";
import type { Client } from "./create-client.ts";

export interface VerifyReceiptParameters {
  readonly receipt: Receipt;
  /**
   * The coordinator key the receipt must be signed by (GET /v1/status `coordinator`). Without it
   * any correctly self-signed receipt passes, which proves nothing about *this* coordinator.
   */
  readonly coordinator?: string;
}

/** True when the receipt is signed by its coordinator (and that is the expected key). */
export type VerifyReceiptReturnType = boolean;

/** Never throws: malformed keys or signatures are `false`. */
export type VerifyReceiptErrorType = never;

/**
 * Checks a receipt's signature: the coordinator's Ed25519 signature over
 * `"switchyard:receipt\0" ‖ JCS({net, seq, hash, time, coordinator})` — the bytes of
 * src/protocol/receipt.ts, which the coordinator signs.
 *
 * @example
 * const { coordinator } = await getStatus(client);
 * const { receipt } = await signAndSubmit(client, { identity, type: "faucet", body: { amount: "1" } });
 * if (!verifyReceipt(client, { receipt, coordinator })) throw new Error("forged receipt");
 */
export function verifyReceipt(client: Client, parameters: VerifyReceiptParameters): VerifyReceiptReturnType {
  return verifyReceiptBytes(client.ed, parameters.receipt, parameters.coordinator);
}
