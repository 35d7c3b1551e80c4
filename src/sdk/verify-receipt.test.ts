import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { signReceipt } from "../coordinator/receipts.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { simIdentity } from "../sim/local-network.ts";
import { createClient } from "./create-client.ts";
import { verifyReceipt } from "./verify-receipt.ts";

const coordinator = simIdentity("verify-receipt-coordinator");
const client = createClient({ url: "http://127.0.0.1:1" });
const receipt = signReceipt(nodeEd25519, coordinator, {
  net: "dev",
  seq: 42,
  hash: "ab".repeat(32),
  time: 1_767_225_600_000,
});

describe("verifyReceipt", () => {
  test("accepts a receipt the coordinator signed (same bytes as src/coordinator/receipts.ts)", () => {
    assert.equal(verifyReceipt(client, { receipt }), true);
    assert.equal(verifyReceipt(client, { receipt, coordinator: coordinator.publicKey }), true);
  });

  test("error: any changed field, another expected key, or a malformed signature is false", () => {
    assert.equal(verifyReceipt(client, { receipt: { ...receipt, seq: 43 } }), false);
    assert.equal(verifyReceipt(client, { receipt: { ...receipt, hash: "cd".repeat(32) } }), false);
    assert.equal(verifyReceipt(client, { receipt: { ...receipt, net: "main" } }), false);
    assert.equal(verifyReceipt(client, { receipt, coordinator: "0".repeat(64) }), false);
    assert.equal(verifyReceipt(client, { receipt: { ...receipt, sig: "zz" } }), false);
  });
});
