/**
 * Geography for placement and latency: great-circle distances between micro-degree coordinates, the
 * built-in round-trip-time model fitted on measured city-to-city pings (docs/latency.md), and a table
 * of major cities.
 *
 * Everything here is deterministic on every engine, so the pure core may use it: the trigonometry
 * below is our own (Cephes polynomials with range reduction) and uses only +, −, ×, ÷ and
 * Math.sqrt — correctly rounded IEEE operations — plus Math.floor/round/abs. Engine math
 * (Math.sin, Math.atan2, …) may differ in the last bit between engines and versions, and a last-bit
 * difference can flip a rounded millisecond and with it a placement.
 */
import { SwitchyardError } from "./errors.ts";

/** A point on Earth in integer micro-degrees, exactly as nodes register it (messages.ts). */
export interface GeoPoint {
  readonly latE6: number;
  readonly lonE6: number;
}

// --- deterministic trigonometry ---------------------------------------------------------------
// Stephen L. Moshier's Cephes Math Library (sin.c, atan.c), double precision. Measured against
// V8's Math over dense grids (geo.test.ts): sin and cos within 1.2e-16 absolute on [−100, 100]
// (≤ 1 ulp of 1), atan2 within 8.9e-16 absolute (2 ulp of π) over all quadrants. The literals
// are Cephes' 21-digit decimals written as the shortest decimal of the same double.

const pi = Math.PI;
const halfPi = Math.PI / 2;
const quarterPi = Math.PI / 4;
/** π/4 in three parts (Cephes DP1..DP3) so that octant × part is exact in the reduction. */
const dp1 = 7.853981256484985e-1;
const dp2 = 3.774894707930798e-8;
const dp3 = 2.6951514290790595e-15;
const sinCoefficients = [
  1.5896230157654656e-10, -2.5050747762857807e-8, 2.7557313621385722e-6, -1.984126982958954e-4,
  8.333333333322118e-3, -1.666666666666663e-1,
] as const;
const cosCoefficients = [
  -1.1358536521387682e-11, 2.087570084197473e-9, -2.755731417929674e-7, 2.4801587288851704e-5,
  -1.3888888888873056e-3, 4.1666666666666595e-2,
] as const;

/**
 * Largest |x| for which the three-part reduction keeps full accuracy (Cephes' `lossth` is 2^30;
 * we stay a factor two inside). Larger finite inputs still give deterministic, less accurate results.
 */
export const trigAccurateBound = 2 ** 29;

function polynomial(z: number, c: readonly number[]): number {
  let p = 0;
  for (const k of c) p = p * z + k;
  return p;
}

/** sin on the reduced argument |r| ≤ π/4: r + r³·P(r²). */
function sinReduced(r: number): number {
  const z = r * r;
  return r + r * (z * polynomial(z, sinCoefficients));
}

/** cos on the reduced argument |r| ≤ π/4: 1 − r²/2 + r⁴·Q(r²). */
function cosReduced(r: number): number {
  const z = r * r;
  return 1 - 0.5 * z + z * z * polynomial(z, cosCoefficients);
}

/** |x| = octant·π/4 + r with an even octant (taken mod 8) and |r| ≤ π/4. */
function reduce(ax: number): { octant: number; r: number } {
  let y = Math.floor(ax / quarterPi);
  if (y % 2 === 1) y += 1;
  const r = ax - y * dp1 - y * dp2 - y * dp3;
  return { octant: y % 8, r };
}

/**
 * sin x, identical bits on every engine. Non-finite input gives NaN.
 *
 * @example deterministicSin(Math.PI / 6) // 0.49999999999999994 (Math.sin gives the same)
 */
export function deterministicSin(x: number): number {
  if (!Number.isFinite(x)) return Number.NaN;
  if (x === 0) return x;
  const { octant, r } = reduce(Math.abs(x));
  let negative = x < 0;
  let j = octant;
  if (j > 3) {
    negative = !negative;
    j -= 4;
  }
  const y = j === 2 ? cosReduced(r) : sinReduced(r);
  return negative ? -y : y;
}

/** cos x, identical bits on every engine. Non-finite input gives NaN. */
export function deterministicCos(x: number): number {
  if (!Number.isFinite(x)) return Number.NaN;
  const { octant, r } = reduce(Math.abs(x));
  let negative = false;
  let j = octant;
  if (j > 3) {
    negative = true;
    j -= 4;
  }
  if (j > 1) negative = !negative;
  const y = j === 2 ? sinReduced(r) : cosReduced(r);
  return negative ? -y : y;
}

const atanP = [
  -8.750608600031904e-1, -1.6157537187333652e1, -7.500855792314705e1, -1.2288666844901361e2,
  -6.485021904942025e1,
] as const;
/** Cephes' Q with its leading 1 written out. */
const atanQ = [
  1, 2.4858464901423062e1, 1.6502700983169885e2, 4.3288106049129027e2, 4.853903996359137e2,
  1.945506571482614e2,
] as const;
/** tan(3π/8) */
const tan3PiOver8 = 2.414213562373095;
/** The bits of π/2 that `halfPi` cannot hold (Cephes MOREBITS). */
const moreBits = 6.123233995736766e-17;

/** atan x for x ≥ 0: reduced to [0, 0.66] by atan x = π/4 + atan((x−1)/(x+1)) or π/2 − atan(1/x). */
function atanNonNegative(x: number): number {
  let base = 0;
  let extra = 0;
  let t = x;
  if (x > tan3PiOver8) {
    base = halfPi;
    extra = moreBits;
    t = -1 / x;
  } else if (x > 0.66) {
    base = quarterPi;
    extra = 0.5 * moreBits;
    t = (x - 1) / (x + 1);
  }
  const z = t * t;
  const rational = (z * polynomial(z, atanP)) / polynomial(z, atanQ);
  return base + (t * rational + t + extra);
}

/**
 * atan2(y, x) in (−π, π], identical bits on every engine. NaN in gives NaN out.
 *
 * @example deterministicAtan2(1, 1) // π/4
 */
export function deterministicAtan2(y: number, x: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.NaN;
  if (x === 0) {
    if (y === 0) return 0;
    return y > 0 ? halfPi : -halfPi;
  }
  const q = Math.abs(y / x);
  const a = q === Number.POSITIVE_INFINITY ? halfPi : atanNonNegative(q);
  if (x > 0) return y < 0 ? -a : a;
  return y < 0 ? -(pi - a) : pi - a;
}

// --- distance and latency -----------------------------------------------------------------------

/** IUGG mean Earth radius (R1), km. */
export const earthRadiusKm = 6371.0088;

/** Speed of light in fibre, km/ms: c / 1.5 (refractive index of silica fibre ≈ 1.47–1.5). */
export const fibreKmPerMs = (299.792458 * 2) / 3;

const radiansPerMicroDegree = pi / 180e6;

/**
 * Great-circle distance in km (haversine on a sphere of radius `earthRadiusKm`). Exactly
 * symmetric, exactly 0 for the same point, and within 1e-9 relative of a Math-based haversine
 * (the sphere itself is 0.3–0.5 % off the WGS-84 ellipsoid, which does not matter here).
 */
export function greatCircleKm(a: GeoPoint, b: GeoPoint): number {
  const phi1 = a.latE6 * radiansPerMicroDegree;
  const phi2 = b.latE6 * radiansPerMicroDegree;
  const sinHalfDLat = deterministicSin((phi2 - phi1) / 2);
  const sinHalfDLon = deterministicSin(((b.lonE6 - a.lonE6) * radiansPerMicroDegree) / 2);
  const cosProduct = deterministicCos(phi1) * deterministicCos(phi2);
  const h = Math.min(1, sinHalfDLat * sinHalfDLat + cosProduct * (sinHalfDLon * sinHalfDLon));
  // atan2 form instead of 2·asin(√h): well conditioned near the antipodes too.
  return earthRadiusKm * 2 * deterministicAtan2(Math.sqrt(h), Math.sqrt(1 - h));
}

/** Round trip at the speed of light in fibre along the great circle: no real path is faster. */
export function fibreRttBoundMs(a: GeoPoint, b: GeoPoint): number {
  return (2 * greatCircleKm(a, b)) / fibreKmPerMs;
}

/**
 * The built-in latency model: RTT = baseMs + stretch × (2 × km / fibreKmPerMs).
 *
 * Fitted by `npx tsx scripts/fit-latency.ts` on WonderProxy's city-to-city pings of 2020-07-19/20
 * (../shared/data/latency/wonderproxy-2020-07-19: 164 cities, 13,320 undirected pairs after
 * dropping unknown server ids and 41 pairs below the fibre bound), on the minimum RTT of each pair,
 * minimizing the mean absolute relative error. The method was assessed with 20 % of the cities held
 * out (seed 20200719): held-out median relative error 15.2 %, p90 41.7 % (15.2–17.3 % and
 * 40.0–45.6 % over ten other splits); these constants are the refit on every pair (in sample:
 * median 16.1 %, p90 44.0 %). One line cannot follow how stretch falls with distance: it
 * overpredicts same-metro pairs (7 ms vs ~3 ms), underpredicts 500–5,000 km pairs by ~18 % on the
 * median, and is slow on the best-connected long routes (London–New York: 101 ms vs 71 ms).
 * Details in docs/latency.md.
 */
export const latencyModel = {
  /** Same-city RTT and the per-path overhead: last miles, routers, host stacks. */
  baseMs: 6.8349,
  /** Path length over the great circle, and queueing, as a factor on the fibre bound. */
  stretch: 1.6876,
} as const;

/**
 * Predicted round-trip time in whole milliseconds between two points (same city: `baseMs`).
 *
 * @example predictRttMs(findCity("Frankfurt"), findCity("Singapore")) // modelled FRA–SIN RTT
 */
export function predictRttMs(a: GeoPoint, b: GeoPoint): number {
  return Math.round(latencyModel.baseMs + latencyModel.stretch * fibreRttBoundMs(a, b));
}

// --- cities ---------------------------------------------------------------------------------------

export interface City extends GeoPoint {
  readonly name: string;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  /** The country and the blocs it belongs to ("EU" for EU members), as nodes register them. */
  readonly jurisdictions: readonly string[];
}

/** The 27 EU member states (ISO 3166-1 alpha-2; Greece is GR, not the EU's own EL). */
const eu = new Set(
  "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split(" "),
);

function city(name: string, country: string, lat: number, lon: number): City {
  return {
    name,
    country,
    jurisdictions: eu.has(country) ? [country, "EU"] : [country],
    latE6: Math.round(lat * 1e6),
    lonE6: Math.round(lon * 1e6),
  };
}

/** Major cities and data-centre hubs, city-centre coordinates to 1e-4° (about 10 m). */
export const cities: readonly City[] = [
  // Europe
  city("Frankfurt", "DE", 50.1109, 8.6821),
  city("Amsterdam", "NL", 52.3676, 4.9041),
  city("London", "GB", 51.5074, -0.1278),
  city("Paris", "FR", 48.8566, 2.3522),
  city("Stockholm", "SE", 59.3293, 18.0686),
  city("Warsaw", "PL", 52.2297, 21.0122),
  city("Madrid", "ES", 40.4168, -3.7038),
  city("Dublin", "IE", 53.3498, -6.2603),
  city("Milan", "IT", 45.4642, 9.19),
  city("Vienna", "AT", 48.2082, 16.3738),
  city("Zurich", "CH", 47.3769, 8.5417),
  city("Brussels", "BE", 50.8503, 4.3517),
  city("Copenhagen", "DK", 55.6761, 12.5683),
  city("Helsinki", "FI", 60.1699, 24.9384),
  city("Oslo", "NO", 59.9139, 10.7522),
  city("Lisbon", "PT", 38.7223, -9.1393),
  city("Prague", "CZ", 50.0755, 14.4378),
  city("Bucharest", "RO", 44.4268, 26.1025),
  city("Istanbul", "TR", 41.0082, 28.9784),
  // North America
  city("New York", "US", 40.7128, -74.006),
  city("Washington", "US", 38.9072, -77.0369),
  city("Chicago", "US", 41.8781, -87.6298),
  city("Dallas", "US", 32.7767, -96.797),
  city("Miami", "US", 25.7617, -80.1918),
  city("Los Angeles", "US", 34.0522, -118.2437),
  city("San Francisco", "US", 37.7749, -122.4194),
  city("Seattle", "US", 47.6062, -122.3321),
  city("Toronto", "CA", 43.6532, -79.3832),
  city("Montreal", "CA", 45.5017, -73.5673),
  city("Mexico City", "MX", 19.4326, -99.1332),
  // South America
  city("São Paulo", "BR", -23.5505, -46.6333),
  city("Buenos Aires", "AR", -34.6037, -58.3816),
  city("Santiago", "CL", -33.4489, -70.6693),
  city("Bogotá", "CO", 4.711, -74.0721),
  city("Lima", "PE", -12.0464, -77.0428),
  // Africa and the Middle East
  city("Johannesburg", "ZA", -26.2041, 28.0473),
  city("Cape Town", "ZA", -33.9249, 18.4241),
  city("Lagos", "NG", 6.5244, 3.3792),
  city("Nairobi", "KE", -1.2921, 36.8219),
  city("Cairo", "EG", 30.0444, 31.2357),
  city("Tel Aviv", "IL", 32.0853, 34.7818),
  city("Riyadh", "SA", 24.7136, 46.6753),
  city("Dubai", "AE", 25.2048, 55.2708),
  // Asia
  city("Mumbai", "IN", 19.076, 72.8777),
  city("Delhi", "IN", 28.7041, 77.1025),
  city("Bangalore", "IN", 12.9716, 77.5946),
  city("Singapore", "SG", 1.3521, 103.8198),
  city("Kuala Lumpur", "MY", 3.139, 101.6869),
  city("Jakarta", "ID", -6.2088, 106.8456),
  city("Bangkok", "TH", 13.7563, 100.5018),
  city("Manila", "PH", 14.5995, 120.9842),
  city("Hong Kong", "HK", 22.3193, 114.1694),
  city("Taipei", "TW", 25.033, 121.5654),
  city("Shanghai", "CN", 31.2304, 121.4737),
  city("Beijing", "CN", 39.9042, 116.4074),
  city("Seoul", "KR", 37.5665, 126.978),
  city("Tokyo", "JP", 35.6762, 139.6503),
  city("Osaka", "JP", 34.6937, 135.5023),
  // Oceania
  city("Sydney", "AU", -33.8688, 151.2093),
  city("Melbourne", "AU", -37.8136, 144.9631),
  city("Auckland", "NZ", -36.8485, 174.7633),
];

/** Case-, accent- and space-insensitive key: "sao  paulo" finds "São Paulo". */
function cityKey(name: string): string {
  return name
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[\s\-_.]+/g, " ")
    .trim();
}

const cityByKey = new Map(cities.map((c) => [cityKey(c.name), c]));

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Up to five built-in city names close to `name`: prefix matches and small edit distances. */
function closeCityNames(name: string): string[] {
  const key = cityKey(name);
  return cities
    .map((c) => {
      const k = cityKey(c.name);
      const prefix = key.length > 0 && (k.startsWith(key) || key.startsWith(k));
      return { name: c.name, distance: prefix ? 0 : editDistance(key, k) };
    })
    .filter((c) => c.distance <= Math.max(2, Math.floor(key.length / 3)))
    .sort((x, y) => x.distance - y.distance || (x.name < y.name ? -1 : 1))
    .slice(0, 5)
    .map((c) => c.name);
}

/**
 * The built-in city called `name` (case-, accent- and spacing-insensitive).
 *
 * @throws SwitchyardError NOT_FOUND naming close matches when the city is not built in.
 * @example findCity("sao paulo").jurisdictions // ["BR"]
 */
export function findCity(name: string): City {
  const found = cityByKey.get(cityKey(name));
  if (found !== undefined) return found;
  const suggestions = closeCityNames(name);
  const hint =
    suggestions.length > 0
      ? `did you mean ${suggestions.join(", ")}?`
      : "give coordinates instead, or one of the built-in cities (geo.ts `cities`)";
  throw new SwitchyardError("NOT_FOUND", `unknown city "${name}": ${hint}`, {
    details: { name, suggestions },
  });
}
