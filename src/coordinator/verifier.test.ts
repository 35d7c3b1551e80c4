import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { signEnvelope } from "../protocol/envelope.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { payloadJson } from "./event-hash.ts";
import { verifyReceipt } from "./receipts.ts";
import { testIdentity } from "./test-kit.ts";
import { createCryptoPool } from "./verifier.ts";

const alice = testIdentity("alice");
const bob = testIdentity("bob");
const coordinator = testIdentity("coordinator");

/** 100 envelopes, every seventh with a forged amount. */
function envelopes() {
  return Array.from({ length: 100 }, (_, i) => {
    const env = signEnvelope(nodeEd25519, alice, "testnet", BigInt(i + 1), "transfer", {
      to: bob.publicKey,
      amount: 5n,
    });
    return i % 7 === 3 ? { ...env, body: { ...env.body, amount: 6n } } : env;
  });
}

describe("the crypto pool", () => {
  for (const threads of [0, 1, 2]) {
    test(`with ${threads} worker thread(s), every verdict and receipt lands on its own request`, async () => {
      const pool = createCryptoPool(coordinator, threads);
      try {
        const envs = envelopes();
        // One turn of the event loop: 100 verifications and 70 signatures share messages, in chunks.
        const verdicts = envs.map((env) => pool.verify(env));
        const receipts = Array.from({ length: 70 }, (_, i) =>
          pool.signReceipt({ net: "testnet", seq: i, hash: "ab".repeat(32) as Hex32, time: 1_000 + i }),
        );
        for (const [i, verdict] of (await Promise.all(verdicts)).entries()) {
          if (i % 7 === 3) assert.equal(!verdict.ok && verdict.error.code, "BAD_SIGNATURE", `envelope ${i}`);
          else
            assert.deepEqual(
              verdict,
              { ok: true, payload: payloadJson({ kind: "msg", env: envs[i]! }) },
              `envelope ${i}`,
            );
        }
        for (const [i, receipt] of (await Promise.all(receipts)).entries()) {
          assert.equal(receipt.seq, i);
          assert.ok(verifyReceipt(nodeEd25519, receipt, coordinator.publicKey));
        }
      } finally {
        await pool.close();
      }
    });
  }
});
