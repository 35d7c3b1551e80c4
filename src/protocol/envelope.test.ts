import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { toHex } from "./bytes.ts";
import { nobleEd25519 } from "./ed25519.noble.ts";
import { nodeEd25519 } from "./ed25519.node.ts";
import {
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  type Identity,
  identityFromSecret,
  messageOf,
  protocolVersion,
  signEnvelope,
  verifyEnvelope,
} from "./envelope.ts";
import { type ErrorCode, isSwitchyardError } from "./errors.ts";
import type { PublicKeyHex } from "./ids.ts";
import { parseJsonLimited } from "./json.ts";
import type { MessageBody, MessageType } from "./messages.ts";

const net = "testnet";
const seed = (n: number) => new Uint8Array(32).fill(n);
const alice = identityFromSecret(nodeEd25519, seed(1));
const bob = identityFromSecret(nodeEd25519, seed(2));

/** What a peer receives: the JSON text of the wire form. */
const wireText = (env: Envelope) => JSON.stringify(encodeEnvelope(env));
/** The wire form as a mutable JSON object, for building hostile variants. */
const wire = (env: Envelope): Record<string, unknown> => JSON.parse(wireText(env));
const bodyOf = (w: Record<string, unknown>) => w["body"] as Record<string, unknown>;

/** Everything a coordinator does with an incoming message body. */
function receive(text: string, expectedNet = net): Envelope {
  const env = decodeEnvelope(parseJsonLimited(text), expectedNet);
  verifyEnvelope(nodeEd25519, env);
  return env;
}

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e) => {
    assert.ok(isSwitchyardError(e), `expected a SwitchyardError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const transfer = (amount = 5n) =>
  signEnvelope(nodeEd25519, alice, net, 1n, "transfer", { to: bob.publicKey, amount });

// --- arbitraries -------------------------------------------------------------------------------

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex);
const amount = fc.bigInt({ min: 1n, max: 10n ** 30n - 1n });
const nonce = fc.bigInt({ min: 1n, max: 10n ** 20n - 1n });
const netName = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/);
const identity = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((secret) => identityFromSecret(nodeEd25519, secret));
const paramValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  // -0 is excluded: JSON text has no -0 to carry it, so it comes back as 0 (and signs as 0 anyway).
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
  fc.string(),
  fc.array(fc.integer(), { maxLength: 3 }),
);
const params = fc.dictionary(
  fc.string().filter((k) => k !== "__proto__"),
  paramValue,
  { maxKeys: 4 },
);
const stage = fc.record(
  {
    name,
    program: fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
    params,
    resourceClass: fc.constantFrom("cpu", "qpu", "relay", "gpu", "gpu:a100", "gpu:h100-80gb"),
    units: fc.integer({ min: 1, max: 1_000_000 }),
    seconds: fc.integer({ min: 1, max: 7 * 24 * 3600 }),
    maxPricePerUnitSecond: amount,
    after: fc.array(name, { maxLength: 3 }),
    jurisdictions: fc.array(fc.stringMatching(/^[A-Z]{2}$/), { maxLength: 3 }),
    cities: fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 2 }),
    minThroughput: fc.integer({ min: 1, max: 1e12 }),
    inputs: fc.array(hex32, { maxLength: 2 }),
  },
  {
    requiredKeys: [
      "name",
      "program",
      "params",
      "resourceClass",
      "units",
      "seconds",
      "maxPricePerUnitSecond",
      "after",
      "inputs",
    ],
  },
);

/** A random message of the three kinds money and jobs flow through, in decoded form. */
const message: fc.Arbitrary<{ type: MessageType; body: MessageBody<MessageType> }> = fc.oneof(
  fc.record({
    type: fc.constant("transfer" as const),
    body: fc.record({ to: hex32 as fc.Arbitrary<PublicKeyHex>, amount }),
  }),
  fc.record({ type: fc.constant("faucet" as const), body: fc.record({ amount }) }),
  fc.record({
    type: fc.constant("submitJob" as const),
    body: fc.record({ stages: fc.array(stage, { minLength: 1, maxLength: 3 }), budget: amount }),
  }),
) as fc.Arbitrary<{ type: MessageType; body: MessageBody<MessageType> }>;

const signed = fc
  .record({ who: identity, net: netName, nonce, message })
  .map(({ who, net, nonce, message }) =>
    signEnvelope(nodeEd25519, who, net, nonce, message.type, message.body),
  );

// --- specifications ----------------------------------------------------------------------------

describe("signed envelope", () => {
  it("property: sign → encode → JSON text → parse → decode → verify round-trips transfer, faucet and submitJob", () => {
    fc.assert(
      fc.property(signed, (env) => {
        const received = decodeEnvelope(parseJsonLimited(wireText(env)), env.net);
        verifyEnvelope(nodeEd25519, received);
        assert.deepEqual(received, env);
      }),
    );
  });

  it("property: decode(encode(x)) = x", () => {
    fc.assert(
      fc.property(signed, (env) => {
        assert.deepEqual(decodeEnvelope(encodeEnvelope(env), env.net), env);
      }),
    );
  });

  it("property: a message signed with node:crypto verifies with noble, and the reverse", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), amount, (secret, amt) => {
        const who: Identity = identityFromSecret(nobleEd25519, secret);
        const byNode = signEnvelope(nodeEd25519, who, net, 7n, "faucet", { amount: amt });
        const byNoble = signEnvelope(nobleEd25519, who, net, 7n, "faucet", { amount: amt });
        assert.equal(byNode.sig, byNoble.sig);
        verifyEnvelope(nobleEd25519, byNode);
        verifyEnvelope(nodeEd25519, byNoble);
      }),
      { numRuns: 20 },
    );
  });

  it("signs the wire form or the decoded form of a body to the same envelope", () => {
    const fromWire = signEnvelope(nodeEd25519, alice, net, 1n, "transfer", {
      to: bob.publicKey,
      amount: "5",
    });
    assert.deepEqual(fromWire, transfer(5n));
  });

  it("fills schema defaults before signing, so the signature covers what the coordinator decodes", () => {
    const env = signEnvelope(nodeEd25519, alice, net, 1n, "submitJob", {
      budget: "100",
      stages: [
        { name: "a", program: "p", resourceClass: "cpu", units: 1, seconds: 1, maxPricePerUnitSecond: "1" },
      ],
    });
    const body = bodyOf(wire(env));
    assert.deepEqual((body["stages"] as Array<Record<string, unknown>>)[0]?.["after"], []);
    assert.doesNotThrow(() => receive(wireText(env)));
  });

  it("messageOf exposes the decoded message the state machine applies", () => {
    assert.deepEqual(messageOf(transfer(9n)), { type: "transfer", body: { to: bob.publicKey, amount: 9n } });
  });

  it("error: an unknown field in the body or the header is MALFORMED", () => {
    const w = wire(transfer());
    bodyOf(w)["memo"] = "hi";
    throwsCode(() => receive(JSON.stringify(w)), "MALFORMED");
    throwsCode(() => receive(JSON.stringify({ ...wire(transfer()), extra: 1 })), "MALFORMED");
  });

  it("error: a field of the wrong type is MALFORMED", () => {
    for (const [field, value] of [
      ["to", 12],
      ["to", bob.publicKey.toUpperCase()],
      ["amount", true],
      ["amount", null],
    ] as const) {
      const w = wire(transfer());
      bodyOf(w)[field] = value;
      throwsCode(() => receive(JSON.stringify(w)), "MALFORMED");
    }
    for (const [field, value] of [
      ["nonce", 1],
      ["signer", "ab"],
      ["type", "mint"],
      ["net", ""],
      ["sig", "00"],
    ] as const) {
      throwsCode(() => receive(JSON.stringify({ ...wire(transfer()), [field]: value })), "MALFORMED");
    }
  });

  it("error: an amount sent as a JSON number is MALFORMED, even when it is small and exact", () => {
    const w = wire(transfer(5n));
    bodyOf(w)["amount"] = 5;
    throwsCode(() => receive(JSON.stringify(w)), "MALFORMED");
  });

  it('error: negative, leading-zero, zero and fractional amounts are MALFORMED ("-1", "01", "0", "1.5")', () => {
    for (const bad of ["-1", "01", "0", "1.5", "1e6", " 1", ""]) {
      const w = wire(transfer());
      bodyOf(w)["amount"] = bad;
      throwsCode(() => receive(JSON.stringify(w)), "MALFORMED");
    }
  });

  it('error: a nonce of "0", with a leading zero, or of 21 digits is MALFORMED', () => {
    for (const bad of ["0", "01", "1".repeat(21), "-1"]) {
      throwsCode(() => receive(JSON.stringify({ ...wire(transfer()), nonce: bad })), "MALFORMED");
    }
  });

  it("error: signatures in upper-case hex are MALFORMED, so one signature has one spelling", () => {
    const w = wire(transfer());
    throwsCode(() => receive(JSON.stringify({ ...w, sig: (w["sig"] as string).toUpperCase() })), "MALFORMED");
  });

  it("error: JSON that is not an envelope object (null, an array, a string) is MALFORMED, never a TypeError", () => {
    for (const text of ["null", "[]", '"transfer"', "42", "{}"]) throwsCode(() => receive(text), "MALFORMED");
  });

  it("error: a __proto__ key in the body or in program params is MALFORMED rather than silently dropped", () => {
    const w = wire(transfer());
    const text = JSON.stringify(w).replace('"amount":', '"__proto__":{"amount":"1"},"amount":');
    throwsCode(() => receive(text), "MALFORMED");

    const job = signEnvelope(nodeEd25519, alice, net, 1n, "submitJob", {
      budget: "10",
      stages: [
        { name: "a", program: "p", resourceClass: "cpu", units: 1, seconds: 1, maxPricePerUnitSecond: "1" },
      ],
    });
    const withProto = wireText(job).replace('"params":{}', '"params":{"__proto__":{"lr":1}}');
    assert.notEqual(withProto, wireText(job));
    throwsCode(() => receive(withProto), "MALFORMED");
  });

  it("error: a tampered amount, recipient, nonce or signature is BAD_SIGNATURE", () => {
    const env = transfer(5n);
    const tampered: Envelope[] = [
      { ...env, body: { to: bob.publicKey, amount: 6n } } as Envelope,
      { ...env, body: { to: alice.publicKey, amount: 5n } } as Envelope,
      { ...env, nonce: 2n },
      { ...env, sig: (env.sig.startsWith("0") ? "1" : "0") + env.sig.slice(1) },
      { ...env, signer: bob.publicKey },
    ];
    for (const t of tampered) {
      throwsCode(() => receive(wireText(t)), "BAD_SIGNATURE");
      throwsCode(() => verifyEnvelope(nobleEd25519, t), "BAD_SIGNATURE");
    }
  });

  it("error: a signature made for network A is rejected on network B (WRONG_NETWORK at decode)", () => {
    const forA = signEnvelope(nodeEd25519, alice, "net-a", 1n, "faucet", { amount: 5n });
    assert.throws(
      () => decodeEnvelope(wire(forA), "net-b"),
      (e) =>
        isSwitchyardError(e, "WRONG_NETWORK") &&
        e.details["expected"] === "net-b" &&
        e.details["got"] === "net-a",
    );
  });

  it("error: a signature for network A does not verify when the envelope is relabelled for network B", () => {
    const forA = signEnvelope(nodeEd25519, alice, "net-a", 1n, "faucet", { amount: 5n });
    const forB = signEnvelope(nodeEd25519, alice, "net-b", 1n, "faucet", { amount: 5n });
    assert.notEqual(forA.sig, forB.sig);
    const relabelled = { ...forA, net: "net-b" };
    throwsCode(() => receive(wireText(relabelled), "net-b"), "BAD_SIGNATURE");
    throwsCode(() => verifyEnvelope(nodeEd25519, { ...forB, sig: forA.sig }), "BAD_SIGNATURE");
  });

  it("error: a signature made for one message type does not verify as another with the same body shape", () => {
    const bond = signEnvelope(nodeEd25519, alice, net, 1n, "bond", { amount: 5n });
    const asUnbond = { ...bond, type: "unbond" } as Envelope;
    throwsCode(() => receive(wireText(asUnbond)), "BAD_SIGNATURE");
  });

  it("error: an envelope whose body does not fit its type is MALFORMED at verification, never a raw ZodError", () => {
    const asFaucet = { ...transfer(), type: "faucet" } as Envelope;
    throwsCode(() => verifyEnvelope(nodeEd25519, asFaucet), "MALFORMED");
  });

  it(`error: a protocol version other than ${protocolVersion} is WRONG_VERSION`, () => {
    for (const v of [0, protocolVersion + 1]) {
      throwsCode(() => receive(JSON.stringify({ ...wire(transfer()), v })), "WRONG_VERSION");
    }
  });

  it("error: a newer version with header fields this version does not know is still WRONG_VERSION, not MALFORMED", () => {
    const future = { ...wire(transfer()), v: protocolVersion + 1, expires: "1700000000000" };
    throwsCode(() => receive(JSON.stringify(future)), "WRONG_VERSION");
  });

  it("error: signing an invalid body is MALFORMED, so nothing invalid is ever signed", () => {
    throwsCode(
      () => signEnvelope(nodeEd25519, alice, net, 1n, "transfer", { to: bob.publicKey, amount: 0n }),
      "MALFORMED",
    );
    throwsCode(
      () => signEnvelope(nodeEd25519, alice, net, 1n, "transfer", { to: "nobody", amount: 1n } as never),
      "MALFORMED",
    );
  });
});
