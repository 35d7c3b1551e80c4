/**
 * Signing receipts with the coordinator's identity. The receipt bytes and their verification are
 * isomorphic and live in src/protocol/receipt.ts (the SDK and audits verify with the same code).
 */
import type { Receipt } from "../protocol/api.ts";
import { toHex } from "../protocol/bytes.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import type { Identity } from "../protocol/envelope.ts";
import { receiptBytes, type UnsignedReceipt } from "../protocol/receipt.ts";

export { receiptBytes, type UnsignedReceipt, verifyReceipt } from "../protocol/receipt.ts";

/**
 * Sign a receipt with the coordinator's identity; `coordinator` is set to its public key.
 *
 * @example
 * const receipt = signReceipt(nodeEd25519, identity, { net, seq: event.seq, hash, time: event.time });
 */
export function signReceipt(
  ed: Ed25519,
  identity: Identity,
  fields: Omit<UnsignedReceipt, "coordinator">,
): Receipt {
  const unsigned: UnsignedReceipt = { ...fields, coordinator: identity.publicKey };
  return { ...unsigned, sig: toHex(ed.sign(identity.secret, receiptBytes(unsigned))) };
}
