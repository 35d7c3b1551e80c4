import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { defaultWonderProxyDir, loadWonderProxy, relativeErrors } from "../../scripts/fit-latency.ts";
import { isSwitchyardError } from "./errors.ts";
import {
  cities,
  deterministicAtan2,
  deterministicCos,
  deterministicSin,
  earthRadiusKm,
  findCity,
  type GeoPoint,
  greatCircleKm,
  latencyModel,
  predictRttMs,
  trigAccurateBound,
} from "./geo.ts";
import { sha256Hex } from "./hash.ts";

const point = (lat: number, lon: number): GeoPoint => ({
  latE6: Math.round(lat * 1e6),
  lonE6: Math.round(lon * 1e6),
});

const arbitraryPoint = fc.record({
  latE6: fc.integer({ min: -90_000_000, max: 90_000_000 }),
  lonE6: fc.integer({ min: -180_000_000, max: 180_000_000 }),
});

/**
 * The haversine with the engine's Math: the accuracy reference. In the atan2 form, like the code
 * under test: the 2·asin(√h) form loses half its digits near the antipodes (h → 1), where it
 * would be the reference, not the code, that is wrong.
 */
function mathHaversineKm(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180e6;
  const p1 = a.latE6 * rad;
  const p2 = b.latE6 * rad;
  const h =
    Math.sin((p2 - p1) / 2) ** 2 +
    Math.cos(p1) * Math.cos(p2) * Math.sin(((b.lonE6 - a.lonE6) * rad) / 2) ** 2;
  const hc = Math.min(1, h);
  return 2 * earthRadiusKm * Math.atan2(Math.sqrt(hc), Math.sqrt(1 - hc));
}

function maxAbsError(
  fn: (x: number) => number,
  reference: (x: number) => number,
  xs: Iterable<number>,
): number {
  let worst = 0;
  for (const x of xs) worst = Math.max(worst, Math.abs(fn(x) - reference(x)));
  return worst;
}

function* grid(lo: number, hi: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield lo + ((hi - lo) * i) / (count - 1);
}

/** SHA-256 over the little-endian IEEE bytes of the values: equal digests mean equal bits. */
function digest(values: readonly number[]): string {
  const view = new DataView(new ArrayBuffer(values.length * 8));
  for (const [i, v] of values.entries()) view.setFloat64(i * 8, v, true);
  return sha256Hex(new Uint8Array(view.buffer));
}

describe("deterministic trigonometry", () => {
  it("sin and cos are within 1.2e-16 of Math on [−100, 100] (1 ulp of 1)", () => {
    const xs = [...grid(-100, 100, 400_001)];
    assert.ok(maxAbsError(deterministicSin, Math.sin, xs) <= 1.2e-16);
    assert.ok(maxAbsError(deterministicCos, Math.cos, xs) <= 1.2e-16);
  });

  it("sin and cos keep that accuracy up to trigAccurateBound", () => {
    const xs = [...grid(trigAccurateBound - 1e6, trigAccurateBound, 100_001)];
    assert.ok(maxAbsError(deterministicSin, Math.sin, xs) <= 1.2e-16);
    assert.ok(maxAbsError(deterministicCos, Math.cos, xs) <= 1.2e-16);
  });

  it("atan2 is within 8.9e-16 of Math in every quadrant (2 ulp of π)", () => {
    let worst = 0;
    for (const t of grid(-Math.PI, Math.PI, 200_001)) {
      for (const r of [1e-3, 1, 7.5, 1e6]) {
        const y = r * Math.sin(t);
        const x = r * Math.cos(t);
        worst = Math.max(worst, Math.abs(deterministicAtan2(y, x) - Math.atan2(y, x)));
      }
    }
    assert.ok(worst <= 8.9e-16, `worst ${worst}`);
  });

  it("edge cases: zero, signs, axes, non-finite", () => {
    assert.ok(Object.is(deterministicSin(-0), -0));
    assert.equal(deterministicCos(0), 1);
    assert.equal(deterministicSin(-1), -deterministicSin(1));
    assert.equal(deterministicCos(-1), deterministicCos(1));
    assert.equal(deterministicAtan2(0, 0), 0);
    assert.equal(deterministicAtan2(1, 0), Math.PI / 2);
    assert.equal(deterministicAtan2(-1, 0), -Math.PI / 2);
    assert.equal(deterministicAtan2(0, -1), Math.PI);
    assert.equal(deterministicAtan2(Number.POSITIVE_INFINITY, 1), Math.PI / 2);
    assert.ok(Number.isNaN(deterministicSin(Number.POSITIVE_INFINITY)));
    assert.ok(Number.isNaN(deterministicCos(Number.NaN)));
    assert.ok(Number.isNaN(deterministicAtan2(Number.NaN, 1)));
  });

  it("golden bits: outputs hash to the digest recorded when the functions were written", () => {
    // Any engine, any version, any platform must reproduce these bits; a change here means the
    // arithmetic changed and every stored prediction derived from it may change with it.
    const xs = [...grid(-10, 10, 10_001)];
    const values = [
      ...xs.map(deterministicSin),
      ...xs.map(deterministicCos),
      ...xs.map((x) => deterministicAtan2(x, 1.5 - x)),
    ];
    assert.equal(digest(values), "4a853bc964c548873da8595159982e40391267e2df082f5db0a365e904a5c731");
  });
});

describe("greatCircleKm", () => {
  it("property: within 1e-9 relative of a Math haversine (brief asks 0.1 %)", () => {
    fc.assert(
      fc.property(arbitraryPoint, arbitraryPoint, (a, b) => {
        const want = mathHaversineKm(a, b);
        const got = greatCircleKm(a, b);
        return want < 1 ? Math.abs(got - want) < 1e-9 : Math.abs(got - want) / want < 1e-9;
      }),
      { numRuns: 20_000 },
    );
  });

  it("property: exactly symmetric, and exactly zero for the same point", () => {
    fc.assert(
      fc.property(arbitraryPoint, arbitraryPoint, (a, b) => {
        return greatCircleKm(a, b) === greatCircleKm(b, a) && greatCircleKm(a, a) === 0;
      }),
      { numRuns: 20_000 },
    );
  });

  it("antipodes are half the circumference; poles and the date line behave", () => {
    const half = Math.PI * earthRadiusKm;
    assert.equal(greatCircleKm(point(0, 0), point(0, 180)), half);
    assert.equal(greatCircleKm(point(90, 0), point(-90, 0)), half);
    // Off the axes h rounds to 1 − 1e-16, and near h = 1 the haversine turns that into ~0.2 m.
    assert.ok(Math.abs(greatCircleKm(point(-33.8688, 151.2093), point(33.8688, -28.7907)) - half) < 1e-3);
    // Across the date line: 1° of longitude on the equator, not 359°.
    assert.ok(Math.abs(greatCircleKm(point(0, 179.5), point(0, -179.5)) - half / 180) < 1e-9);
    // Both on the pole: cos(π/2) is 6e-17, not 0, so "zero" is 1e-12 km here.
    assert.ok(greatCircleKm(point(90, 10), point(90, -170)) < 1e-9);
  });

  it("known distances: Frankfurt–Singapore ≈ 10,258 km, London–New York ≈ 5,570 km", () => {
    assert.equal(Math.round(greatCircleKm(findCity("Frankfurt"), findCity("Singapore"))), 10_258);
    assert.equal(Math.round(greatCircleKm(findCity("London"), findCity("New York"))), 5_570);
  });

  it("golden bits over every pair of built-in cities", () => {
    const values = cities.flatMap((a) => cities.map((b) => greatCircleKm(a, b)));
    assert.equal(digest(values), "fd3e708dc56da6a0f8a0ee73d681d922348b6dd8750d741cc56168fc87a74662");
  });
});

describe("predictRttMs", () => {
  it("same city gets the base; the prediction is an integer and symmetric", () => {
    const fra = findCity("Frankfurt");
    assert.equal(predictRttMs(fra, fra), Math.round(latencyModel.baseMs));
    fc.assert(
      fc.property(arbitraryPoint, arbitraryPoint, (a, b) => {
        const rtt = predictRttMs(a, b);
        return Number.isInteger(rtt) && rtt === predictRttMs(b, a) && rtt >= Math.round(latencyModel.baseMs);
      }),
    );
  });

  // Measured `min` RTTs from the data README. The model is one global line, so it is pessimistic
  // on the best-connected long routes: the tolerances state how far off it is, pair by pair.
  const references = [
    { from: "Frankfurt", to: "Amsterdam", measuredMs: 13.7, predictedMs: 13, tolerance: 0.1 },
    { from: "Amsterdam", to: "Singapore", measuredMs: 162.8, predictedMs: 184, tolerance: 0.15 },
    { from: "Frankfurt", to: "Singapore", measuredMs: 150.0, predictedMs: 180, tolerance: 0.25 },
    { from: "London", to: "New York", measuredMs: 71.0, predictedMs: 101, tolerance: 0.45 },
  ] as const;
  for (const r of references) {
    it(`${r.from}–${r.to}: ${r.predictedMs} ms, within ${r.tolerance * 100} % of the measured ${r.measuredMs} ms`, () => {
      const rtt = predictRttMs(findCity(r.from), findCity(r.to));
      assert.equal(rtt, r.predictedMs);
      assert.ok(Math.abs(rtt - r.measuredMs) / r.measuredMs <= r.tolerance);
    });
  }

  // Measured with scripts/fit-latency.ts: median 0.1605, p90 0.4395 over 13,320 pairs.
  const data = existsSync(defaultWonderProxyDir)
    ? {}
    : { skip: `measured pings not found at ${defaultWonderProxyDir} (../shared/data is absent)` };
  it("on the measured WonderProxy pairs: median relative error < 17 %, p90 < 46 %", data, () => {
    const { pairs } = loadWonderProxy();
    assert.ok(pairs.length > 10_000, `only ${pairs.length} pairs loaded`);
    const errors = relativeErrors(pairs, (p) => predictRttMs(p.a, p.b));
    assert.ok(errors.medianRelativeError < 0.17, `median ${errors.medianRelativeError}`);
    assert.ok(errors.p90RelativeError < 0.46, `p90 ${errors.p90RelativeError}`);
  });
});

describe("cities", () => {
  it("has the required cities with valid coordinates and jurisdictions", () => {
    assert.ok(cities.length >= 40);
    for (const name of [
      "Frankfurt",
      "Amsterdam",
      "Singapore",
      "London",
      "Paris",
      "New York",
      "São Paulo",
      "Tokyo",
      "Sydney",
      "Mumbai",
      "Johannesburg",
      "San Francisco",
      "Toronto",
      "Seoul",
      "Stockholm",
      "Warsaw",
      "Madrid",
      "Dubai",
      "Hong Kong",
      "Chicago",
    ]) {
      assert.equal(findCity(name).name, name);
    }
    const names = new Set<string>();
    for (const c of cities) {
      assert.ok(!names.has(c.name), `duplicate ${c.name}`);
      names.add(c.name);
      assert.match(c.country, /^[A-Z]{2}$/);
      assert.equal(c.jurisdictions[0], c.country);
      assert.ok(Number.isInteger(c.latE6) && Math.abs(c.latE6) <= 90e6);
      assert.ok(Number.isInteger(c.lonE6) && Math.abs(c.lonE6) <= 180e6);
    }
    assert.deepEqual(findCity("Frankfurt").jurisdictions, ["DE", "EU"]);
    assert.deepEqual(findCity("London").jurisdictions, ["GB"]);
    assert.deepEqual(findCity("Zurich").jurisdictions, ["CH"]);
  });

  it("findCity ignores case, accents and spacing", () => {
    assert.equal(findCity("sao paulo").name, "São Paulo");
    assert.equal(findCity("  NEW   york ").name, "New York");
    assert.equal(findCity("bogota").name, "Bogotá");
    assert.equal(findCity("hong-kong").name, "Hong Kong");
  });

  it("error: an unknown city is NOT_FOUND and names close matches", () => {
    assert.throws(
      () => findCity("Frankfort"),
      (e: unknown) =>
        isSwitchyardError(e, "NOT_FOUND") &&
        /Frankfurt/.test(e.message) &&
        (e.details["suggestions"] as string[]).includes("Frankfurt"),
    );
    assert.throws(
      () => findCity("San"),
      (e: unknown) =>
        isSwitchyardError(e, "NOT_FOUND") &&
        ["San Francisco", "Santiago"].every((n) => (e.details["suggestions"] as string[]).includes(n)),
    );
    assert.throws(
      () => findCity("Atlantis-under-the-sea"),
      (e: unknown) =>
        isSwitchyardError(e, "NOT_FOUND") && (e.details["suggestions"] as string[]).length === 0,
    );
  });
});
