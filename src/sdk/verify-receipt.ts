import type { Receipt } from "../protocol/api.ts";
import { concatBytes, fromHex, utf8 } from "../protocol/bytes.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
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

const receiptDomain = utf8("switchyard:receipt\u0000");

/**
 * Checks a receipt's signature: the coordinator's Ed25519 signature over
 * `"switchyard:receipt\0" ‖ JCS({net, seq, hash, time, coordinator})`. The byte layout is the one
 * `receiptBytes` in src/coordinator/receipts.ts signs (the SDK may not import the coordinator;
 * verify-receipt.test.ts pins the two together).
 *
 * @example
 * const { coordinator } = await getStatus(client);
 * const { receipt } = await signAndSubmit(client, { identity, type: "faucet", body: { amount: "1" } });
 * if (!verifyReceipt(client, { receipt, coordinator })) throw new Error("forged receipt");
 */
export function verifyReceipt(client: Client, parameters: VerifyReceiptParameters): VerifyReceiptReturnType {
  const { receipt, coordinator } = parameters;
  if (coordinator !== undefined && receipt.coordinator !== coordinator) return false;
  if (!/^[0-9a-f]{64}$/.test(receipt.coordinator) || !/^[0-9a-f]{128}$/.test(receipt.sig)) return false;
  const bytes = concatBytes(
    receiptDomain,
    canonicalBytes({
      net: receipt.net,
      seq: receipt.seq,
      hash: receipt.hash,
      time: receipt.time,
      coordinator: receipt.coordinator,
    }),
  );
  return client.ed.verify(fromHex(receipt.coordinator), bytes, fromHex(receipt.sig));
}
