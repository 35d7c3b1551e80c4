import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { nodeEd25519 } from "./ed25519.node.ts";
import { type Envelope, identityFromSecret, signEnvelope } from "./envelope.ts";
import { isSwitchyardError } from "./errors.ts";
import type { Hex32 } from "./ids.ts";
import {
  decodeLogEvent,
  encodeLogEvent,
  genesisEvent,
  genesisPrev,
  hashLogEvent,
  type LogEvent,
  type LogPayload,
  type StoredEvent,
  verifyChain,
} from "./log.ts";
import { defaultParams } from "./params.ts";

const net = "testnet";
const alice = identityFromSecret(nodeEd25519, new Uint8Array(32).fill(1));
const bob = identityFromSecret(nodeEd25519, new Uint8Array(32).fill(2));
const t0 = 1_700_000_000_000;

const transfer = (nonce: bigint, amount: bigint): Envelope =>
  signEnvelope(nodeEd25519, alice, net, nonce, "transfer", { to: bob.publicKey, amount });

/** Append `payloads` after genesis the way a sequencer does: seq, time and prev from the last event. */
function buildChain(payloads: readonly LogPayload[]): StoredEvent[] {
  const first = genesisEvent(net, defaultParams, true, t0);
  const events: StoredEvent[] = [{ ...first, hash: hashLogEvent(first) }];
  for (const payload of payloads) {
    const last = events[events.length - 1]!;
    const e: LogEvent = { seq: last.seq + 1, time: last.time + 1, prev: last.hash, payload };
    events.push({ ...e, hash: hashLogEvent(e) });
  }
  return events;
}

const chain = buildChain([
  { kind: "msg", env: signEnvelope(nodeEd25519, alice, net, 1n, "faucet", { amount: 100n }) },
  { kind: "msg", env: transfer(2n, 5n) },
  { kind: "sys", sys: { type: "tick" } },
  { kind: "msg", env: transfer(3n, 7n) },
  { kind: "sys", sys: { type: "tick" } },
]);

/** The JSON text a store would hold, read back. */
const roundTrip = (e: LogEvent) => decodeLogEvent(JSON.parse(JSON.stringify(encodeLogEvent(e))), net);

function brokenAt(events: readonly StoredEvent[], seq: number, prevHash?: Hex32, prevSeq?: number): void {
  assert.throws(
    () => verifyChain(events, prevHash, prevSeq),
    (e) => {
      assert.ok(isSwitchyardError(e, "CHAIN_BROKEN"), String(e));
      assert.equal(e.details["seq"], seq, e.message);
      return true;
    },
  );
}

describe("log events and the hash chain", () => {
  it("hashLogEvent is stable across encode → JSON text → decode, for genesis, ticks and signed messages", () => {
    for (const e of chain) {
      const back = roundTrip(e);
      assert.deepEqual(back, { seq: e.seq, time: e.time, prev: e.prev, payload: e.payload });
      assert.equal(hashLogEvent(back), e.hash);
    }
  });

  it("property: hashLogEvent is stable across encode/decode for random transfers", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 20n - 1n }),
        fc.bigInt({ min: 1n, max: 10n ** 30n - 1n }),
        fc.nat(),
        (nonce, amount, seq) => {
          const e: LogEvent = {
            seq,
            time: t0 + seq,
            prev: genesisPrev,
            payload: { kind: "msg", env: transfer(nonce, amount) },
          };
          assert.equal(hashLogEvent(roundTrip(e)), hashLogEvent(e));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("the hash covers seq, time, prev and payload: changing any one changes it", () => {
    const e = chain[2]!;
    const base = hashLogEvent(e);
    assert.notEqual(hashLogEvent({ ...e, seq: e.seq + 1 }), base);
    assert.notEqual(hashLogEvent({ ...e, time: e.time + 1 }), base);
    assert.notEqual(hashLogEvent({ ...e, prev: chain[0]!.hash }), base);
    assert.notEqual(hashLogEvent({ ...e, payload: { kind: "msg", env: transfer(2n, 6n) } }), base);
  });

  it("verifyChain accepts a good chain and returns the hash of its last event", () => {
    assert.equal(verifyChain(chain), chain[chain.length - 1]!.hash);
  });

  it("verifyChain continues a chain from a known event", () => {
    const mid = chain[2]!;
    assert.equal(verifyChain(chain.slice(3), mid.hash, mid.seq), chain[chain.length - 1]!.hash);
    assert.equal(verifyChain([], mid.hash, mid.seq), mid.hash);
  });

  it("error: a tampered body is CHAIN_BROKEN at that event's seq", () => {
    const events = [...chain];
    events[2] = { ...chain[2]!, payload: { kind: "msg", env: transfer(2n, 5_000n) } };
    brokenAt(events, 2);
  });

  it("error: a tampered time is CHAIN_BROKEN at that event's seq", () => {
    brokenAt(chain.with(3, { ...chain[3]!, time: chain[3]!.time + 60_000 }), 3);
  });

  it("error: a tampered body whose own hash was recomputed breaks the link to the next event", () => {
    const forged: LogEvent = { ...chain[2]!, payload: { kind: "msg", env: transfer(2n, 5_000n) } };
    brokenAt(chain.with(2, { ...forged, hash: hashLogEvent(forged) }), 3);
  });

  it("error: a reordered pair is CHAIN_BROKEN at the first position out of order", () => {
    brokenAt([chain[0]!, chain[1]!, chain[3]!, chain[2]!, chain[4]!, chain[5]!], 2);
  });

  it("error: a gap is CHAIN_BROKEN at the missing seq", () => {
    brokenAt([...chain.slice(0, 3), ...chain.slice(4)], 3);
  });

  it("error: an event that points at the wrong predecessor is CHAIN_BROKEN, even with a consistent own hash", () => {
    const wrong: LogEvent = { ...chain[4]!, prev: chain[2]!.hash };
    brokenAt(chain.with(4, { ...wrong, hash: hashLogEvent(wrong) }), 4);
  });

  it("error: a chain that does not start where the caller's known head ends is CHAIN_BROKEN", () => {
    brokenAt(chain.slice(3), 3, chain[1]!.hash, 2);
    brokenAt(chain.slice(3), 2, chain[2]!.hash, 1);
    brokenAt(chain.slice(1), 0);
  });

  it("error: decoding a stored event with a bad header is MALFORMED, and one for another network is WRONG_NETWORK", () => {
    const json = JSON.parse(JSON.stringify(encodeLogEvent(chain[2]!)));
    for (const bad of [
      { ...json, seq: -1 },
      { ...json, prev: "00" },
      { ...json, extra: 1 },
      { ...json, payload: { kind: "x" } },
    ]) {
      assert.throws(
        () => decodeLogEvent(bad, net),
        (e) => isSwitchyardError(e, "MALFORMED"),
      );
    }
    assert.throws(
      () => decodeLogEvent(json, "othernet"),
      (e) => isSwitchyardError(e, "WRONG_NETWORK"),
    );
    assert.throws(
      () => decodeLogEvent({ ...json, payload: { kind: "sys", sys: { type: "mint" } } }, net),
      (e) => isSwitchyardError(e, "MALFORMED"),
    );
  });
});
