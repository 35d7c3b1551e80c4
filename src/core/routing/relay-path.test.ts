import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isSwitchyardError } from "../../protocol/errors.ts";
import { findCity, predictRttMs } from "../../protocol/geo.ts";
import { bandwidthFee, choosePath, type Hop, type RelayOption } from "./relay-path.ts";

const MB = 1_000_000;
/** The hop model spelled out: one RTT plus the bytes at the bandwidth, whole ms; nothing to move costs 0. */
const hopMs = (bytes: number, h: Hop) =>
  bytes === 0 ? 0 : Math.round(h.rttMs) + Math.floor((bytes * 1000) / h.bytesPerSecond);
const relay = (id: string, a: Hop, b: Hop, pricePerGigabyte = 0n): RelayOption => ({
  id,
  fromSource: a,
  toDestination: b,
  pricePerGigabyte,
});
const rtt = (a: string, b: string) => predictRttMs(findCity(a), findCity(b));

describe("relay path: direct or relayed, by predicted transfer time", () => {
  it("a small blob between two EU cities goes direct: the relay's extra round trip is not worth it", () => {
    const direct = { rttMs: rtt("Frankfurt", "Paris"), bytesPerSecond: 100 * MB };
    const zrh = relay(
      "zrh",
      { rttMs: rtt("Frankfurt", "Zurich"), bytesPerSecond: 100 * MB },
      { rttMs: rtt("Zurich", "Paris"), bytesPerSecond: 100 * MB },
      20_000n,
    );
    const choice = choosePath({ bytes: 1 * MB, direct, relays: [zrh] });
    assert.equal(choice.chosen.kind, "direct");
    assert.equal(choice.reason, "best-predicted");
    assert.equal(choice.chosen.predictedMs, hopMs(MB, direct));
    assert.equal(choice.chosen.fee, 0n);
    assert.equal(choice.alternative?.relay, "zrh");
    assert.deepEqual(choice.alternative?.hopsMs, [hopMs(MB, zrh.fromSource), hopMs(MB, zrh.toDestination)]);
    assert.equal(choice.alternative?.fee, 20n, "1 MB at 20,000 µ/GB");
  });

  it("a large blob over a congested direct path goes through the relay predicted faster, and says by how much", () => {
    const direct = { rttMs: 180, bytesPerSecond: 1 * MB };
    const ams = relay(
      "ams",
      { rttMs: 90, bytesPerSecond: 100 * MB },
      { rttMs: 95, bytesPerSecond: 100 * MB },
      10_000n,
    );
    const choice = choosePath({ bytes: 50 * MB, direct, relays: [ams] });
    assert.equal(choice.chosen.relay, "ams");
    assert.equal(choice.chosen.predictedMs, 90 + 500 + 95 + 500);
    assert.equal(choice.chosen.fee, 500n);
    assert.equal(choice.alternative?.kind, "direct");
    assert.equal(choice.alternative?.predictedMs, 180 + 50_000);
  });

  it("fallback: when the direct path failed, the best relay is taken even though direct was predicted faster", () => {
    const direct = { rttMs: 10, bytesPerSecond: 100 * MB };
    const slow = relay("a-slow", { rttMs: 200, bytesPerSecond: MB }, { rttMs: 200, bytesPerSecond: MB });
    const fast = relay(
      "b-fast",
      { rttMs: 20, bytesPerSecond: 50 * MB },
      { rttMs: 20, bytesPerSecond: 50 * MB },
    );
    assert.equal(choosePath({ bytes: 5 * MB, direct, relays: [slow, fast] }).chosen.kind, "direct");
    const choice = choosePath({ bytes: 5 * MB, direct, relays: [slow, fast], directFailed: true });
    assert.equal(choice.reason, "direct-failed");
    assert.equal(choice.chosen.relay, "b-fast");
    assert.equal(choice.alternative?.relay, "a-slow");
    assert.ok(
      choice.candidates.every((c) => c.kind === "relay"),
      "the failed direct path is not offered again",
    );
    const next = choosePath({
      bytes: 5 * MB,
      direct,
      relays: [slow, fast],
      directFailed: true,
      failedRelays: ["b-fast"],
    });
    assert.equal(next.chosen.relay, "a-slow");
    assert.equal(next.alternative, null);
  });

  it("error: everything failed, or nothing is known, is UNREACHABLE", () => {
    const r = relay("r", { rttMs: 1, bytesPerSecond: MB }, { rttMs: 1, bytesPerSecond: MB });
    assert.throws(
      () =>
        choosePath({
          bytes: 1,
          direct: { rttMs: 1, bytesPerSecond: 1 },
          relays: [r],
          directFailed: true,
          failedRelays: ["r"],
        }),
      (e: unknown) => isSwitchyardError(e, "UNREACHABLE"),
    );
    assert.throws(
      () => choosePath({ bytes: 1, relays: [] }),
      (e: unknown) => isSwitchyardError(e, "UNREACHABLE"),
    );
    assert.equal(choosePath({ bytes: 1, relays: [r] }).reason, "no-direct-path");
  });

  it("ties: equal time goes to the lower fee, then direct, then the lower relay id", () => {
    const hop = { rttMs: 10, bytesPerSecond: MB };
    const half = { rttMs: 5, bytesPerSecond: 2 * MB };
    // Relayed hops sum to the direct time: 5 + 500 twice = 1,010 = 10 + 1,000.
    const free = [relay("b", half, half), relay("a", half, half)];
    assert.equal(choosePath({ bytes: MB, direct: hop, relays: free }).chosen.kind, "direct");
    const choice = choosePath({ bytes: MB, direct: hop, relays: free, directFailed: true });
    assert.equal(choice.chosen.relay, "a");
    const priced = [relay("a", half, half, 5_000n), relay("b", half, half, 1_000n)];
    assert.equal(choosePath({ bytes: MB, relays: priced }).chosen.relay, "b", "cheaper wins a tie on time");
  });

  it("with a value of time, a relay that saves a little time at a high fee loses to direct", () => {
    const direct = { rttMs: 100, bytesPerSecond: 10 * MB };
    const pricey = relay(
      "p",
      { rttMs: 20, bytesPerSecond: 20 * MB },
      { rttMs: 20, bytesPerSecond: 20 * MB },
      50_000_000n,
    );
    const bytes = 100 * MB;
    assert.equal(choosePath({ bytes, direct, relays: [pricey] }).chosen.relay, "p", "faster by time alone");
    const choice = choosePath({ bytes, direct, relays: [pricey], valueOfTimePerSecond: 1_000 });
    assert.equal(choice.chosen.kind, "direct");
    assert.equal(choice.chosen.score, 10_100n, "10.1 s at 1,000 µ/s");
    assert.equal(choice.alternative?.score, 10_040n + 5_000_000n);
  });

  it("fees: rounded up per hop and for the relay; sender bandwidth prices are added", () => {
    assert.equal(bandwidthFee(1, 1n), 1n);
    assert.equal(bandwidthFee(1_000_000_000, 7n), 7n);
    assert.equal(bandwidthFee(1_000_000_001, 7n), 8n);
    assert.equal(bandwidthFee(0, 7n), 0n);
    const r = relay(
      "r",
      { rttMs: 1, bytesPerSecond: MB, pricePerGigabyte: 3_000n },
      { rttMs: 1, bytesPerSecond: MB, pricePerGigabyte: 2_000n },
      10_000n,
    );
    const e = choosePath({ bytes: 2 * MB, relays: [r] }).chosen;
    assert.equal(e.relayFee, 20n);
    assert.equal(e.fee, 6n + 4n + 20n);
  });

  it("property: the chosen path is never slower than any other possible one, and the order of relays does not matter", () => {
    const hop = fc.record({
      rttMs: fc.integer({ min: 0, max: 400 }),
      bytesPerSecond: fc.integer({ min: 1, max: 1e9 }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e10 }),
        fc.option(hop, { nil: undefined }),
        fc.uniqueArray(
          fc.record({
            id: fc.string({ minLength: 1, maxLength: 3 }),
            a: hop,
            b: hop,
            price: fc.bigInt({ min: 0n, max: 100_000n }),
          }),
          {
            selector: (r) => r.id,
            maxLength: 6,
          },
        ),
        fc.boolean(),
        (bytes, direct, specs, directFailed) => {
          const relays = specs.map((s) => relay(s.id, s.a, s.b, s.price));
          const possible = (direct !== undefined && !directFailed ? 1 : 0) + relays.length;
          const request = { bytes, relays, directFailed, ...(direct === undefined ? {} : { direct }) };
          if (possible === 0) {
            assert.throws(
              () => choosePath(request),
              (e: unknown) => isSwitchyardError(e, "UNREACHABLE"),
            );
            return;
          }
          const choice = choosePath(request);
          const times = relays.map((r) => hopMs(bytes, r.fromSource) + hopMs(bytes, r.toDestination));
          if (direct !== undefined && !directFailed) times.push(hopMs(bytes, direct));
          assert.equal(choice.chosen.predictedMs, Math.min(...times));
          if (directFailed) assert.equal(choice.chosen.kind, "relay");
          assert.equal(choice.candidates.length, possible);
          const reversed = choosePath({ ...request, relays: [...relays].reverse() });
          assert.deepEqual(reversed, choice);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("error: negative, non-finite or duplicate inputs are MALFORMED", () => {
    const ok: Hop = { rttMs: 1, bytesPerSecond: 1 };
    const malformed = (e: unknown) => isSwitchyardError(e, "MALFORMED");
    assert.throws(() => choosePath({ bytes: -1, direct: ok, relays: [] }), malformed);
    assert.throws(() => choosePath({ bytes: 1.5, direct: ok, relays: [] }), malformed);
    assert.throws(
      () => choosePath({ bytes: 1, direct: { rttMs: Number.NaN, bytesPerSecond: 1 }, relays: [] }),
      malformed,
    );
    assert.throws(
      () => choosePath({ bytes: 1, direct: { rttMs: 1, bytesPerSecond: 0 }, relays: [] }),
      malformed,
    );
    assert.throws(
      () => choosePath({ bytes: 1, relays: [relay("x", ok, ok), relay("x", ok, ok)] }),
      malformed,
    );
    assert.throws(() => choosePath({ bytes: 1, relays: [relay("x", ok, ok, -1n)] }), malformed);
    assert.throws(
      () => choosePath({ bytes: 1, direct: ok, relays: [], valueOfTimePerSecond: -3 }),
      malformed,
    );
  });
});
