import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { receiptSchema } from "../protocol/api.ts";
import { toHex, utf8 } from "../protocol/bytes.ts";
import { canonicalize } from "../protocol/canonical.ts";
import { nobleEd25519 } from "../protocol/ed25519.noble.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { receiptBytes, signReceipt, verifyReceipt } from "./receipts.ts";
import { coordinatorIdentity, testIdentity } from "./test-kit.ts";

const fields = { net: "testnet", seq: 42, hash: "ab".repeat(32) as Hex32, time: 1_767_225_600_123 };

describe("receipts", () => {
  test("a signed receipt matches the API schema and verifies with both Ed25519 adapters", () => {
    const receipt = signReceipt(nodeEd25519, coordinatorIdentity, fields);
    assert.ok(receiptSchema.safeParse(receipt).success);
    assert.equal(receipt.coordinator, coordinatorIdentity.publicKey);
    assert.ok(verifyReceipt(nodeEd25519, receipt));
    assert.ok(verifyReceipt(nobleEd25519, receipt, coordinatorIdentity.publicKey));
  });

  test("the signed bytes are a domain tag and the canonical JSON of every field but sig", () => {
    const unsigned = { ...fields, coordinator: coordinatorIdentity.publicKey };
    const bytes = receiptBytes(unsigned);
    const tag = utf8("switchyard:receipt\u0000");
    assert.deepEqual(bytes.slice(0, tag.length), tag);
    assert.equal(new TextDecoder().decode(bytes.slice(tag.length)), canonicalize(unsigned));
    // Key order of the input does not matter.
    const reordered = {
      coordinator: unsigned.coordinator,
      time: fields.time,
      hash: fields.hash,
      seq: 42,
      net: "testnet",
    };
    assert.deepEqual(receiptBytes(reordered), bytes);
  });

  test("error: any changed field, another key or malformed hex fails verification", () => {
    const receipt = signReceipt(nodeEd25519, coordinatorIdentity, fields);
    assert.equal(verifyReceipt(nodeEd25519, { ...receipt, seq: 43 }), false, "seq");
    assert.equal(verifyReceipt(nodeEd25519, { ...receipt, hash: "cd".repeat(32) }), false, "hash");
    assert.equal(verifyReceipt(nodeEd25519, { ...receipt, time: receipt.time + 1 }), false, "time");
    assert.equal(verifyReceipt(nodeEd25519, { ...receipt, net: "mainnet" }), false, "net");
    const mallory = testIdentity("mallory");
    const forged = signReceipt(nodeEd25519, mallory, fields);
    assert.ok(verifyReceipt(nodeEd25519, forged), "a receipt by another key verifies on its own…");
    assert.equal(
      verifyReceipt(nodeEd25519, forged, coordinatorIdentity.publicKey),
      false,
      "…but not as ours",
    );
    assert.equal(verifyReceipt(nodeEd25519, { ...receipt, coordinator: mallory.publicKey }), false);
    assert.equal(verifyReceipt(nodeEd25519, { ...receipt, sig: "zz".repeat(64) }), false);
    assert.equal(verifyReceipt(nodeEd25519, { ...receipt, sig: toHex(new Uint8Array(64)) }), false);
  });
});
