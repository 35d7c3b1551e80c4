import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { encodeState, stateHash } from "../core/index.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { signEnvelope } from "../protocol/envelope.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { genesisEvent, hashLogEvent, type LogEvent } from "../protocol/log.ts";
import { defaultParams } from "../protocol/params.ts";
import { must, onboardProviders, worldProviders } from "../sim/fixtures.ts";
import { LocalNetwork } from "../sim/local-network.ts";
import { hashEventWithPayload, payloadJson, stateHashOfEncoded } from "./event-hash.ts";
import { testIdentity } from "./test-kit.ts";

const alice = testIdentity("alice");
const bob = testIdentity("bob");

/** Program parameters as a requester could write them: any JSON, any keys but __proto__. */
const params = fc.dictionary(
  fc.string().filter((k) => k !== "__proto__"),
  fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).includes('"__proto__"')),
  { maxKeys: 6 },
);

const frame = fc.record({
  seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  time: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  prev: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex") as Hex32),
});

describe("the split event hash equals hashLogEvent", () => {
  test("property: for transfers with any amount, nonce, seq, time and prev", () => {
    fc.assert(
      fc.property(
        frame,
        fc.bigInt({ min: 1n, max: 10n ** 30n - 1n }),
        fc.bigInt({ min: 1n, max: 10n ** 19n }),
        (f, amount, nonce) => {
          const env = signEnvelope(nodeEd25519, alice, "testnet", nonce, "transfer", {
            to: bob.publicKey,
            amount,
          });
          const event: LogEvent = { ...f, payload: { kind: "msg", env } };
          assert.equal(hashEventWithPayload(event, payloadJson(event.payload)), hashLogEvent(event));
        },
      ),
      { numRuns: 200 },
    );
  });

  test("property: for jobs whose program parameters hold any JSON (unicode, floats, escapes)", () => {
    fc.assert(
      fc.property(frame, params, fc.string({ minLength: 1, maxLength: 64 }), (f, p, city) => {
        const env = signEnvelope(nodeEd25519, alice, "testnet", 7n, "submitJob", {
          stages: [
            {
              name: "s",
              program: "mlp-train",
              params: p as never,
              resourceClass: "gpu",
              units: 1,
              seconds: 1,
              maxPricePerUnitSecond: 5n,
              cities: [city],
            },
          ],
          budget: 1_000n,
        } as never);
        const event: LogEvent = { ...f, payload: { kind: "msg", env } };
        assert.equal(hashEventWithPayload(event, payloadJson(event.payload)), hashLogEvent(event));
      }),
      { numRuns: 200 },
    );
  });

  test("system events: genesis and tick", () => {
    const genesis = genesisEvent("testnet", defaultParams, true, 1_767_225_600_000);
    assert.equal(hashEventWithPayload(genesis, payloadJson(genesis.payload)), hashLogEvent(genesis));
    const tick: LogEvent = {
      seq: 9,
      time: 1_767_225_600_009,
      prev: "ab".repeat(32) as Hex32,
      payload: { kind: "sys", sys: { type: "tick" } },
    };
    assert.equal(hashEventWithPayload(tick, payloadJson(tick.payload)), hashLogEvent(tick));
  });

  test("error: a payload that is not the event's gives another hash", () => {
    const env = signEnvelope(nodeEd25519, alice, "testnet", 1n, "transfer", {
      to: bob.publicKey,
      amount: 5n,
    });
    const other = signEnvelope(nodeEd25519, alice, "testnet", 1n, "transfer", {
      to: bob.publicKey,
      amount: 6n,
    });
    const event: LogEvent = {
      seq: 1,
      time: 2,
      prev: "ab".repeat(32) as Hex32,
      payload: { kind: "msg", env },
    };
    assert.notEqual(
      hashEventWithPayload(event, payloadJson({ kind: "msg", env: other })),
      hashLogEvent(event),
    );
  });

  test("the state hash taken from the encoded state equals stateHash", () => {
    const net = new LocalNetwork();
    onboardProviders(net, worldProviders);
    must(net.send(alice, "faucet", { amount: 5n }));
    assert.equal(stateHashOfEncoded(encodeState(net.state)), stateHash(net.state));
  });
});
