import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { apply, stateHash } from "../core/index.ts";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import { must, onboardProviders, worldProviders } from "./fixtures.ts";
import { LocalNetwork, simIdentity } from "./local-network.ts";

const alice = simIdentity("alice");
const bob = simIdentity("bob");

function network(): LocalNetwork {
  const net = new LocalNetwork({ net: "testnet" });
  onboardProviders(net, worldProviders.slice(0, 2));
  must(net.send(alice, "faucet", { amount: 1_000_000n }));
  return net;
}

/** Submit something hostile and check it is refused with `code` and leaves the state untouched. */
function refused(
  net: LocalNetwork,
  code: ErrorCode,
  attempt: () => ReturnType<LocalNetwork["submit"]>,
): void {
  const before = stateHash(net.state);
  const logLength = net.log.length;
  const outcome = attempt();
  assert.equal(outcome.ok, false, `expected a ${code} rejection`);
  assert.equal(!outcome.ok && outcome.error.code, code);
  assert.equal(stateHash(net.state), before, "state hash unchanged");
  assert.equal(net.log.length, logLength, "nothing appended to the log");
}

const wire = (net: LocalNetwork, value: unknown) => net.submitWire(JSON.stringify(value));

describe("bad input is rejected with a typed error and changes nothing", () => {
  test("error: malformed JSON", () => {
    const net = network();
    refused(net, "MALFORMED", () => net.submitWire('{"v":1,"net":'));
  });

  test("error: oversized body is refused before parsing", () => {
    const net = network();
    const env = encodeEnvelope(net.sign(alice, "transfer", { to: bob.publicKey, amount: 1n }));
    const padded = JSON.stringify({ ...env, pad: "x".repeat(2_000_000) });
    refused(net, "TOO_LARGE", () => net.submitWire(padded));
  });

  test("error: nesting deeper than the limit", () => {
    const net = network();
    refused(net, "TOO_LARGE", () => net.submitWire(`${"[".repeat(100_000)}${"]".repeat(100_000)}`));
  });

  test("error: unknown field, wrong type, and a JSON number for an amount", () => {
    const net = network();
    const env = encodeEnvelope(net.sign(alice, "transfer", { to: bob.publicKey, amount: 1n }));
    refused(net, "MALFORMED", () => wire(net, { ...env, extra: true }));
    refused(net, "MALFORMED", () => wire(net, { ...env, body: { ...(env["body"] as object), extra: 1 } }));
    refused(net, "MALFORMED", () => wire(net, { ...env, nonce: 5 }));
    refused(net, "MALFORMED", () => wire(net, { ...env, body: { to: bob.publicKey, amount: 1 } }));
  });

  test("error: wrongly signed", () => {
    const net = network();
    const env = net.sign(alice, "transfer", { to: bob.publicKey, amount: 1n });
    const forged = { ...env, body: { ...env.body, amount: 999_999n } };
    refused(net, "BAD_SIGNATURE", () => net.submit(forged));
    const otherKey = signEnvelope(net.ed, bob, net.net, env.nonce, "transfer", env.body);
    refused(net, "BAD_SIGNATURE", () => net.submit({ ...otherKey, signer: alice.publicKey }));
  });

  test("error: replayed message", () => {
    const net = network();
    const env = net.sign(alice, "transfer", { to: bob.publicKey, amount: 1n });
    must(net.submit(env));
    refused(net, "NONCE_REPLAYED", () => net.submit(env));
    refused(net, "NONCE_REPLAYED", () => net.submitWire(JSON.stringify(encodeEnvelope(env))));
  });

  test("error: out-of-order nonce (lower than one already accepted)", () => {
    const net = network();
    const first = net.sign(alice, "transfer", { to: bob.publicKey, amount: 1n });
    const second = net.sign(alice, "transfer", { to: bob.publicKey, amount: 2n });
    must(net.submit(second));
    refused(net, "NONCE_REPLAYED", () => net.submit(first));
  });

  test("error: wrong network", () => {
    const net = network();
    const env = signEnvelope(net.ed, alice, "mainnet", 1_000n, "transfer", { to: bob.publicKey, amount: 1n });
    refused(net, "WRONG_NETWORK", () => net.submitWire(JSON.stringify(encodeEnvelope(env))));
    // Even if a shell skipped the ingress check, the machine itself refuses it.
    refused(net, "WRONG_NETWORK", () => net.submit(env));
  });

  test("error: log events out of sequence or going back in time are refused by apply", () => {
    const net = network();
    const before = stateHash(net.state);
    const env = net.sign(alice, "transfer", { to: bob.publicKey, amount: 1n });
    const gap = apply(net.state, {
      seq: net.state.seq + 2,
      time: net.now + 10,
      prev: net.headHash,
      payload: { kind: "msg", env },
    });
    assert.equal(!gap.ok && gap.error.code, "SEQUENCE_GAP");
    const back = apply(net.state, {
      seq: net.state.seq + 1,
      time: net.state.time,
      prev: net.headHash,
      payload: { kind: "msg", env },
    });
    assert.equal(!back.ok && back.error.code, "TIME_REGRESSION");
    assert.equal(stateHash(net.state), before);
  });

  test("error: rejected business rules (overdraft, impostor) change nothing", () => {
    const net = network();
    refused(net, "INSUFFICIENT_FUNDS", () =>
      net.send(alice, "transfer", { to: bob.publicKey, amount: 10_000_000n }),
    );
    refused(net, "UNKNOWN_NODE", () =>
      net.send(bob, "postOffer", { resourceClass: "cpu", capacity: 1, pricePerUnitSecond: 1n }),
    );
    refused(net, "INVALID_JOB", () =>
      net.send(alice, "submitJob", {
        budget: 1_000n,
        stages: [
          {
            name: "a",
            program: "p",
            resourceClass: "cpu",
            units: 1,
            seconds: 1,
            maxPricePerUnitSecond: 1n,
            after: ["b"],
          },
          {
            name: "b",
            program: "p",
            resourceClass: "cpu",
            units: 1,
            seconds: 1,
            maxPricePerUnitSecond: 1n,
            after: ["a"],
          },
        ],
      } as never),
    );
  });
});
