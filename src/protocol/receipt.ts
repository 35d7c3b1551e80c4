/**
 * Receipts: the coordinator's signed statement that a message is durable in the log at `seq` with
 * event hash `hash`. A client that keeps its receipts can later prove a dropped or reordered message
 * against anyone's copy of the log (DESIGN.md §2: trust in the operator is reduced to liveness and
 * ordering). Isomorphic: the coordinator signs with these bytes, and the SDK (browser too) and the
 * audit verify with them.
 *
 * The signature covers a domain tag and the canonical (RFC 8785) JSON of every field but `sig`, so
 * a receipt signature can never be confused with an envelope signature by the same key, and key
 * order or whitespace cannot change what was signed.
 */
import type { Receipt } from "./api.ts";
import { concatBytes, fromHex, utf8 } from "./bytes.ts";
import { canonicalBytes } from "./canonical.ts";
import type { Ed25519 } from "./ed25519.ts";
import type { Hex32 } from "./ids.ts";

const receiptDomain = utf8("switchyard:receipt\u0000");

/** A receipt before it is signed. */
export type UnsignedReceipt = Omit<Receipt, "sig">;

/**
 * The bytes a coordinator signs for a receipt: `"switchyard:receipt\0" ‖ JCS({net, seq, hash, time,
 * coordinator})`.
 *
 * @example
 * const bytes = receiptBytes({ net: "dev", seq: 7, hash, time: 1767225600000, coordinator });
 */
export function receiptBytes(receipt: UnsignedReceipt): Uint8Array {
  return concatBytes(
    receiptDomain,
    canonicalBytes({
      net: receipt.net,
      seq: receipt.seq,
      hash: receipt.hash,
      time: receipt.time,
      coordinator: receipt.coordinator,
    }),
  );
}

/**
 * True when `receipt.sig` is the signature of `receipt.coordinator` over its fields — and, when
 * `coordinator` is given, that key is the one expected (a receipt signed by some other key proves
 * nothing about this coordinator). Total: malformed hex is `false`, never an exception.
 *
 * @example
 * if (!verifyReceipt(nodeEd25519, receipt, status.coordinator)) throw new Error("forged receipt");
 */
export function verifyReceipt(ed: Ed25519, receipt: Receipt, coordinator?: Hex32 | string): boolean {
  if (coordinator !== undefined && receipt.coordinator !== coordinator) return false;
  if (!/^[0-9a-f]{64}$/.test(receipt.coordinator) || !/^[0-9a-f]{128}$/.test(receipt.sig)) return false;
  return ed.verify(fromHex(receipt.coordinator), receiptBytes(receipt), fromHex(receipt.sig));
}
