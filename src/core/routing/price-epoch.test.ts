import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { MessageBody } from "../../protocol/messages.ts";
import { must, onboardProviders, type SimProvider } from "../../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../../sim/local-network.ts";
import { decodeState, encodeState, stateHash } from "../codec.ts";
import { checkAllInvariants } from "../invariants.ts";
import { replay } from "../replay.ts";
import { priceEpochWouldChange } from "./price-epoch.ts";

const epochMs = 10_000;
const requester = simIdentity("price-requester");

function gpu(name: string, city: string, country: string, price: bigint, capacity: number): SimProvider {
  return {
    who: simIdentity(name),
    node: {
      name,
      city,
      country,
      jurisdictions: [country, ...(country === "DE" || country === "FR" ? ["EU"] : [])],
      latE6: 0,
      lonE6: 0,
      resourceClass: "gpu",
      capacity,
      throughput: 40_000,
    },
    pricePerUnitSecond: price,
  };
}

// Europe: asks 600 and 1,000 on 8 units each → starts at the capacity-weighted mean, 800.
// Asia: asks 400 and 800 on 4 units each → starts at 600.
const fra = gpu("price-fra", "Frankfurt", "DE", 600n, 8);
const par = gpu("price-par", "Paris", "FR", 1_000n, 8);
const sin = gpu("price-sin", "Singapore", "SG", 400n, 4);
const tyo = gpu("price-tyo", "Tokyo", "JP", 800n, 4);

function network(): LocalNetwork {
  // Start deadlines far beyond the test, so the matched stages hold their units at every epoch.
  const net = new LocalNetwork({ params: { priceEpochMs: epochMs, startDeadlineMs: 24 * 3600_000 } });
  onboardProviders(net, [fra, par, sin, tyo]);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  return net;
}

/** Book all 16 European gpu units: one 8-unit stage on each offer. */
function fillEurope(net: LocalNetwork): void {
  const stage = (name: string) => ({
    name,
    program: "mlp-train",
    resourceClass: "gpu",
    units: 8,
    seconds: 60,
    maxPricePerUnitSecond: 1_000n,
    jurisdictions: ["EU"],
  });
  const body = { stages: [stage("a"), stage("b")], budget: 10_000_000n };
  must(net.send(requester, "submitJob", body as unknown as MessageBody<"submitJob">));
}

const entry = (net: LocalNetwork, key: string) => {
  const record = net.state.priceIndex.entries.get(key);
  assert.ok(record, `${key} has an index`);
  return record;
};

/** Advance one epoch and tick; returns the index of `key` before and after. */
function epoch(net: LocalNetwork, key: string): { before: bigint; after: bigint } {
  const before = entry(net, key).index;
  net.advance(epochMs);
  must(net.tick());
  return { before, after: entry(net, key).index };
}

describe("price index slice (EIP-1559 rule at ticks)", () => {
  test("the first epoch starts each (class, region) at the capacity-weighted mean ask", () => {
    const net = network();
    assert.equal(net.state.priceIndex.entries.size, 0, "nothing is published before a tick");
    must(net.tick());
    assert.deepEqual(
      [...net.state.priceIndex.entries.values()].map((r) => [r.resourceClass, r.region, r.index]),
      [
        ["gpu", "Asia", 600n],
        ["gpu", "Europe", 800n],
      ],
    );
    assert.equal(entry(net, "gpu|Europe").updatedAt, net.state.time);
  });

  test("full capacity raises the index by at most 12.5 % per epoch, up to the highest ask", () => {
    const net = network();
    must(net.tick());
    fillEurope(net);
    const seen: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      const { before, after } = epoch(net, "gpu|Europe");
      assert.ok(after >= before, "a full region's index does not fall");
      assert.ok(after * 8n <= before * 9n, `${before} → ${after} is more than 12.5 %`);
      assert.ok(after <= 1_000n, "never above the highest ask");
      assert.equal(entry(net, "gpu|Europe").utilizationBps, 10_000);
      seen.push(after);
    }
    assert.deepEqual(seen, [900n, 1_000n, 1_000n, 1_000n, 1_000n]);
    checkAllInvariants(net.state);
  });

  test("idle capacity lowers the index by at most 12.5 % per epoch, never below the lowest ask", () => {
    const net = network();
    must(net.tick());
    const seen: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      const { before, after } = epoch(net, "gpu|Asia");
      assert.ok(after <= before, "an idle region's index does not rise");
      assert.ok(after * 8n >= before * 7n, `${before} → ${after} is more than 12.5 %`);
      assert.ok(after >= 400n, "never below the lowest ask (the floor)");
      assert.equal(entry(net, "gpu|Asia").utilizationBps, 0);
      seen.push(after);
    }
    assert.deepEqual(seen, [525n, 460n, 403n, 400n, 400n, 400n]);
  });

  test("an index moves once per epoch, however many ticks fall inside it", () => {
    const net = network();
    must(net.tick());
    fillEurope(net);
    const start = entry(net, "gpu|Europe");
    const { index, updatedAt } = start;
    for (let i = 0; i < 4; i++) {
      net.advance(epochMs / 5);
      must(net.tick());
    }
    assert.equal(entry(net, "gpu|Europe").index, index);
    assert.equal(entry(net, "gpu|Europe").updatedAt, updatedAt);
    net.advance(epochMs / 5);
    must(net.tick());
    assert.equal(entry(net, "gpu|Europe").index, 900n);
  });

  test("a (class, region) without active offers keeps its index and its age", () => {
    const net = network();
    must(net.tick());
    const asia = { ...entry(net, "gpu|Asia") };
    for (const p of [sin, tyo]) {
      const offerId = [...net.state.offers.values()].find((o) => o.provider === p.who.publicKey)!.id;
      must(net.send(p.who, "withdrawOffer", { offerId }));
    }
    epoch(net, "gpu|Europe");
    assert.deepEqual(entry(net, "gpu|Asia"), asia);
    assert.ok(entry(net, "gpu|Europe").updatedAt > asia.updatedAt);
  });

  test("an epoch is worth a tick only while it would change an index or a reading", () => {
    const net = network();
    assert.equal(
      priceEpochWouldChange(net.state, net.now),
      true,
      "no index yet: the first epoch starts them",
    );
    must(net.tick());
    assert.equal(priceEpochWouldChange(net.state, net.now + epochMs - 1), false, "not due yet");
    for (let i = 0; i < 8; i++) epoch(net, "gpu|Asia");
    // Both regions are idle and at their lowest ask: a due epoch changes nothing.
    assert.equal(entry(net, "gpu|Europe").index, 600n);
    assert.equal(priceEpochWouldChange(net.state, net.now + epochMs), false);
    fillEurope(net);
    assert.equal(priceEpochWouldChange(net.state, net.now + epochMs), true, "Europe is now full");
  });

  test("replay and a snapshot reproduce the index and the state hash", () => {
    const net = network();
    must(net.tick());
    fillEurope(net);
    for (let i = 0; i < 3; i++) epoch(net, "gpu|Europe");
    assert.equal(stateHash(replay(net.log)), net.stateHash());
    const restored = decodeState(encodeState(net.state));
    assert.deepEqual(restored.priceIndex, net.state.priceIndex);
    assert.equal(stateHash(restored), net.stateHash());
    // Continuing from a snapshot taken mid-way gives the same index as the live run.
    const half = Math.floor(net.log.length / 2);
    const fromSnapshot = replay(
      net.log.slice(half + 1),
      decodeState(encodeState(replay(net.log.slice(0, half + 1)))),
    );
    assert.deepEqual(fromSnapshot.priceIndex, net.state.priceIndex);
    assert.equal(stateHash(fromSnapshot), net.stateHash());
  });

  test("error: a changed index changes the state hash", () => {
    const net = network();
    must(net.tick());
    const before = net.stateHash();
    entry(net, "gpu|Europe").index += 1n;
    assert.notEqual(net.stateHash(), before);
  });
});
