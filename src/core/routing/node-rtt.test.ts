import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isSwitchyardError } from "../../protocol/errors.ts";
import { findCity, predictRttMs } from "../../protocol/geo.ts";
import {
  maxCoordinateErrorPpm,
  maxCoordinateUs,
  type NetworkCoordinate,
  reportCoordinateSchema,
} from "../../protocol/network-coordinate.ts";
import { coordinateFromVivaldi, predictRtt, vivaldiFromCoordinate } from "./node-rtt.ts";
import { geoPriorCoordinate, predictedRttMs } from "./vivaldi.ts";

const frankfurt = findCity("Frankfurt");
const singapore = findCity("Singapore");

const coordinateArb: fc.Arbitrary<NetworkCoordinate> = fc.record({
  vectorUs: fc.array(fc.integer({ min: -maxCoordinateUs, max: maxCoordinateUs }), {
    minLength: 3,
    maxLength: 3,
  }),
  heightUs: fc.integer({ min: 0, max: maxCoordinateUs }),
  errorPpm: fc.integer({ min: 0, max: maxCoordinateErrorPpm }),
});

describe("predictRtt", () => {
  test("falls back to the geographic model while either node has no coordinate", () => {
    const reported = coordinateFromVivaldi(geoPriorCoordinate(singapore));
    const geo = { rttMs: predictRttMs(frankfurt, singapore), source: "geo" };
    assert.deepEqual(predictRtt(frankfurt, singapore), geo);
    assert.deepEqual(predictRtt(frankfurt, { ...singapore, coordinate: reported }), geo);
    assert.deepEqual(predictRtt({ ...frankfurt, coordinate: reported }, singapore), geo);
  });

  test("with both coordinates: distance plus both heights, whole ms, and the worse error estimate", () => {
    const a = { ...frankfurt, coordinate: { vectorUs: [0, 0, 0], heightUs: 2_000, errorPpm: 100_000 } };
    const b = {
      ...singapore,
      coordinate: { vectorUs: [30_000, 40_000, 0], heightUs: 3_400, errorPpm: 250_000 },
    };
    // ‖(30, 40, 0)‖ = 50 ms, + 2 + 3.4 = 55.4 → 55: geography is ignored once both reported.
    assert.deepEqual(predictRtt(a, b), { rttMs: 55, source: "coordinates", errorPpm: 250_000 });
    assert.deepEqual(predictRtt(b, a), predictRtt(a, b));
  });

  test("the geographic prior, reported as is, predicts about what the geographic model does", () => {
    const a = { ...frankfurt, coordinate: coordinateFromVivaldi(geoPriorCoordinate(frankfurt)) };
    const b = { ...singapore, coordinate: coordinateFromVivaldi(geoPriorCoordinate(singapore)) };
    const prior = predictRtt(a, b).rttMs;
    const model = predictRttMs(frankfurt, singapore);
    // The prior measures the chord, the model the arc: shorter by ~10 % at this distance.
    assert.ok(prior < model && prior > model * 0.85, `prior ${prior} ms vs model ${model} ms`);
  });

  test("property: symmetric, and at least the two heights", () => {
    fc.assert(
      fc.property(coordinateArb, coordinateArb, (ca, cb) => {
        const a = { ...frankfurt, coordinate: ca };
        const b = { ...singapore, coordinate: cb };
        const ab = predictRtt(a, b);
        assert.deepEqual(predictRtt(b, a), ab);
        assert.ok(Number.isSafeInteger(ab.rttMs));
        assert.ok(ab.rttMs >= Math.floor((ca.heightUs + cb.heightUs) / 1000));
      }),
    );
  });
});

describe("coordinate conversion", () => {
  test("rounds to µs and ppm and clamps to the message bounds", () => {
    assert.deepEqual(coordinateFromVivaldi({ vector: [1.2345, -0.0001, -3], height: 3.4, error: 0.25 }), {
      vectorUs: [1235, 0, -3000],
      heightUs: 3400,
      errorPpm: 250_000,
    });
    const huge = coordinateFromVivaldi({ vector: [1e12, -1e12, 0], height: -5, error: 99 });
    assert.deepEqual(huge, {
      vectorUs: [maxCoordinateUs, -maxCoordinateUs, 0],
      heightUs: 0,
      errorPpm: maxCoordinateErrorPpm,
    });
    assert.ok(reportCoordinateSchema.safeParse({ coordinate: huge }).success, "always a valid message");
    assert.ok(
      Object.is(coordinateFromVivaldi({ vector: [-1e-9, 0, 0], height: 1, error: 1 }).vectorUs[0], 0),
    );
  });

  test("error: a coordinate with the wrong axes or a value that is not finite is MALFORMED", () => {
    for (const bad of [
      { vector: [1, 2], height: 1, error: 1 },
      { vector: [1, Number.NaN, 3], height: 1, error: 1 },
      { vector: [1, 2, 3], height: Number.POSITIVE_INFINITY, error: 1 },
    ]) {
      assert.throws(
        () => coordinateFromVivaldi(bad),
        (e) => isSwitchyardError(e, "MALFORMED"),
      );
    }
  });

  test("property: integer coordinates survive the trip through the float form", () => {
    fc.assert(
      fc.property(coordinateArb, (c) => {
        // fast-check builds records without a prototype; compare as plain objects.
        assert.deepEqual(coordinateFromVivaldi(vivaldiFromCoordinate(c)), { ...c });
      }),
    );
  });

  test("the float form predicts what the integer form does", () => {
    const a = coordinateFromVivaldi(geoPriorCoordinate(frankfurt));
    const b = coordinateFromVivaldi(geoPriorCoordinate(singapore));
    const exact = predictedRttMs(geoPriorCoordinate(frankfurt), geoPriorCoordinate(singapore));
    const stored = predictedRttMs(vivaldiFromCoordinate(a), vivaldiFromCoordinate(b));
    assert.ok(Math.abs(exact - stored) < 0.01, `${exact} vs ${stored}`);
  });
});

describe("reportCoordinate schema", () => {
  const ok = { vectorUs: [1, -2, 3], heightUs: 100, errorPpm: 1_000_000 };
  test("accepts integers within the bounds", () => {
    assert.ok(reportCoordinateSchema.safeParse({ coordinate: ok }).success);
  });
  test("error: floats, out-of-bound values, other dimensions and extra fields are refused", () => {
    for (const coordinate of [
      { ...ok, vectorUs: [1.5, 0, 0] },
      { ...ok, heightUs: 0.5 },
      { ...ok, heightUs: -1 },
      { ...ok, errorPpm: maxCoordinateErrorPpm + 1 },
      { ...ok, vectorUs: [maxCoordinateUs + 1, 0, 0] },
      { ...ok, vectorUs: [1, 2] },
      { ...ok, vectorUs: [1, 2, 3, 4] },
      { ...ok, extra: 1 },
    ]) {
      assert.equal(
        reportCoordinateSchema.safeParse({ coordinate }).success,
        false,
        JSON.stringify(coordinate),
      );
    }
  });
});
