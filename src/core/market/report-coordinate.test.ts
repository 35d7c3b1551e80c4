import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { must, onboardProviders, worldProviders } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { decodeState, encodeState, stateHash } from "../codec.ts";
import { replay } from "../replay.ts";
import { predictRtt } from "../routing/node-rtt.ts";

const [fra, , , sin] = worldProviders;
const near = { vectorUs: [0, 0, 0], heightUs: 1_000, errorPpm: 500_000 };
const far = { vectorUs: [100_000, 0, 0], heightUs: 2_000, errorPpm: 200_000 };

function network() {
  const net = new LocalNetwork();
  onboardProviders(net, worldProviders);
  return net;
}

describe("reportCoordinate", () => {
  test("stores the signer's latest coordinate with the sequencer time, replacing the one before", () => {
    const net = network();
    must(net.send(fra!.who, "reportCoordinate", { coordinate: near }));
    const first = net.state.time;
    assert.deepEqual(net.state.nodes.get(fra!.who.publicKey)!.coordinate, { ...near, reportedAt: first });
    net.advance(1_000);
    must(net.send(fra!.who, "reportCoordinate", { coordinate: far }));
    assert.deepEqual(net.state.nodes.get(fra!.who.publicKey)!.coordinate, {
      ...far,
      reportedAt: net.state.time,
    });
    assert.ok(net.state.time > first);
    assert.equal(net.state.nodes.get(sin!.who.publicKey)!.coordinate, undefined, "only the signer's node");
  });

  test("predictions switch from geography to coordinates once both ends reported", () => {
    const net = network();
    const node = (k: typeof fra) => net.state.nodes.get(k!.who.publicKey)!;
    assert.equal(predictRtt(node(fra), node(sin)).source, "geo");
    must(net.send(fra!.who, "reportCoordinate", { coordinate: near }));
    assert.equal(predictRtt(node(fra), node(sin)).source, "geo");
    must(net.send(sin!.who, "reportCoordinate", { coordinate: far }));
    assert.deepEqual(predictRtt(node(fra), node(sin)), {
      rttMs: 103,
      source: "coordinates",
      errorPpm: 500_000,
    });
  });

  test("error: an identity without a node is UNKNOWN_NODE and changes nothing", () => {
    const net = network();
    const stranger = simIdentity("stranger");
    must(net.send(stranger, "faucet", { amount: 1_000n }));
    const before = net.stateHash();
    const out = net.send(stranger, "reportCoordinate", { coordinate: near });
    assert.ok(!out.ok && out.error.code === "UNKNOWN_NODE");
    assert.equal(net.stateHash(), before);
  });

  test("error: a float in the body is MALFORMED before it is signed", () => {
    const net = network();
    assert.throws(
      () => net.send(fra!.who, "reportCoordinate", { coordinate: { ...near, heightUs: 1.5 } }),
      (e: Error & { code?: string }) => e.code === "MALFORMED",
    );
  });

  test("coordinates survive snapshots and replay: the same state hash", () => {
    const net = network();
    must(net.send(fra!.who, "reportCoordinate", { coordinate: near }));
    must(net.send(sin!.who, "reportCoordinate", { coordinate: far }));
    const hash = net.stateHash();
    assert.equal(stateHash(decodeState(encodeState(net.state))), hash);
    assert.equal(stateHash(replay(net.log)), hash);
  });
});
