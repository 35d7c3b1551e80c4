/**
 * Deterministic float32 elementary functions: sqrt, exp, log, sin, cos, tanh.
 *
 * Why not Math.exp and friends: ECMAScript leaves their accuracy "implementation-approximated", and
 * V8, SpiderMonkey and JavaScriptCore (and one engine across versions) return different last bits.
 * A verified computation that calls them cannot be re-executed bit-for-bit on another machine.
 *
 * Why these are identical everywhere: every function below is a fixed sequence of +, −, ×, ÷ on
 * float32 values, each followed by Math.fround, plus exact operations (comparisons, Math.floor and
 * Math.trunc on floats, sign flips, multiplication by powers of two in range, and reading the
 * exponent bits through a typed-array view). JavaScript evaluates + − × ÷ in IEEE binary64 with
 * round-to-nearest-even and forbids fused multiply-add contraction; rounding an exact binary64
 * result of an operation on two binary32 values back to binary32 gives the correctly rounded binary32
 * result, because 53 ≥ 2·24 + 2 (Figueroa, "When is double rounding innocuous?", 1995). So every
 * `fround(a op b)` here is the IEEE binary32 operation, which has exactly one correct answer on
 * every conforming machine, and a port to Wasm f32 or C `float` (without -ffast-math or FMA
 * contraction) reproduces the same bits.
 *
 * The algorithms and coefficients are Stephen L. Moshier's Cephes single-precision routines (expf,
 * logf, sinf/cosf, tanhf), which were designed for float32 evaluation: Cody–Waite range reduction
 * with constants whose products with the reduction integer are exact, then a short minimax
 * polynomial. Measured accuracy against correctly rounded references is asserted in
 * elementary.test.ts.
 */

const fround = Math.fround;

// Exact powers of two as float32, 2^-149 (smallest subnormal) .. 2^127, built by doubling from 1
// so no engine function is involved. Indexed by exponent + 149.
const minExponent = -149;
const powersOfTwo = new Float64Array(127 - minExponent + 1);
powersOfTwo[-minExponent] = 1;
for (let e = 1; e <= 127; e++) powersOfTwo[e - minExponent] = powersOfTwo[e - 1 - minExponent]! * 2;
for (let e = -1; e >= minExponent; e--) powersOfTwo[e - minExponent] = powersOfTwo[e + 1 - minExponent]! / 2;

function powerOfTwo(e: number): number {
  return powersOfTwo[e - minExponent]!;
}

/** x · 2^n for float32 x and integer n, rounded once to float32 (exact unless it underflows). */
function scaleByPowerOfTwo(x: number, n: number): number {
  // Split large shifts so every factor is a representable power and only the last product rounds.
  if (n > 127) return fround(fround(x * powerOfTwo(127)) * powerOfTwo(n - 127));
  if (n < -126) return fround(fround(x * powerOfTwo(n + 64)) * powerOfTwo(-64));
  return fround(x * powerOfTwo(n));
}

// One view over 4 bytes to read and step a float32's bits: exact, endian-independent (both views
// share the platform's byte order).
const bitsF32 = new Float32Array(1);
const bitsU32 = new Uint32Array(bitsF32.buffer);

// --- sqrt ------------------------------------------------------------------------------------

/** The float32 neighbours of a positive finite float32 (exact, through the bit view below). */
function nextUp(x: number): number {
  bitsF32[0] = x;
  bitsU32[0] = bitsU32[0]! + 1;
  return bitsF32[0]!;
}
function nextDown(x: number): number {
  bitsF32[0] = x;
  bitsU32[0] = bitsU32[0]! - 1;
  return bitsF32[0]!;
}

/**
 * Correctly rounded float32 square root. ECMA-262 lets Math.sqrt be implementation-approximated,
 * so its answer is only a first guess: the result is then moved to the float32 nearest √x by
 * comparing x with the squares of the midpoints to its neighbours. A midpoint has 25 significant
 * bits, so its square is exact in binary64 and each comparison is exact; √x of a float32 is never
 * exactly a midpoint, so strict comparisons decide every case.
 */
export function sqrtf(x: number): number {
  x = fround(x);
  if (!(x > 0) || x === Number.POSITIVE_INFINITY) return x < 0 ? Number.NaN : x; // ±0, NaN, +∞
  let r = fround(Math.sqrt(x));
  for (;;) {
    // `m * m`, not `m ** 2`: exponentiation is implementation-approximated too.
    const mid = (r + nextUp(r)) / 2;
    if (mid * mid < x) {
      r = nextUp(r);
      continue;
    }
    const low = (r + nextDown(r)) / 2;
    if (low * low > x) {
      r = nextDown(r);
      continue;
    }
    return r;
  }
}

// --- exp -------------------------------------------------------------------------------------

const maxLog = fround(88.72283905206835); // above: exp overflows float32
const minLog = fround(-103.2789306640625); // below: exp is under half the smallest subnormal
const log2e = fround(Math.LOG2E);
// ln 2 = ln2Hi + ln2Lo, ln2Hi with 9 significant bits so n·ln2Hi is exact for |n| ≤ 2^15.
const ln2Hi = fround(0.693359375);
const ln2Lo = fround(-2.1219444e-4);
const expP0 = fround(1.98756915e-4);
const expP1 = fround(1.3981999507e-3);
const expP2 = fround(8.3334519073e-3);
const expP3 = fround(4.1665795894e-2);
const expP4 = fround(1.6666665459e-1);
const expP5 = fround(5.0000001201e-1);

/** e^x in float32. exp(NaN) = NaN, exp(+∞) = +∞, exp(−∞) = 0. */
export function expf(x: number): number {
  x = fround(x);
  if (Number.isNaN(x)) return x;
  if (x > maxLog) return Number.POSITIVE_INFINITY;
  if (x < minLog) return 0;
  // n = round(x / ln 2); Math.floor of a float is exact.
  const n = Math.floor(fround(fround(log2e * x) + 0.5));
  let r = fround(x - fround(n * ln2Hi));
  r = fround(r - fround(n * ln2Lo));
  const r2 = fround(r * r);
  let p = fround(fround(expP0 * r) + expP1);
  p = fround(fround(p * r) + expP2);
  p = fround(fround(p * r) + expP3);
  p = fround(fround(p * r) + expP4);
  p = fround(fround(p * r) + expP5);
  p = fround(fround(fround(p * r2) + r) + 1);
  return scaleByPowerOfTwo(p, n);
}

// --- log -------------------------------------------------------------------------------------

const sqrtHalf = fround(Math.SQRT1_2);
const logP = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(fround);

/** Split positive finite float32 x into m · 2^e with m in [0.5, 1). Exact. */
function splitExponent(x: number): { m: number; e: number } {
  let bias = 0;
  if (x < powerOfTwo(-126)) {
    // Subnormal: make it normal first (exact), then correct the exponent.
    x = fround(x * powerOfTwo(25));
    bias = 25;
  }
  bitsF32[0] = x;
  const e = ((bitsU32[0]! >>> 23) & 0xff) - 126;
  return { m: fround(x * powerOfTwo(-e)), e: e - bias };
}

/** Natural logarithm in float32. log(0) = −∞, log(x < 0) = NaN, log(+∞) = +∞. */
export function logf(x: number): number {
  x = fround(x);
  if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY) return x;
  if (x === 0) return Number.NEGATIVE_INFINITY;
  if (x < 0) return Number.NaN;
  const split = splitExponent(x);
  let e = split.e;
  let f: number;
  if (split.m < sqrtHalf) {
    e -= 1;
    f = fround(fround(split.m + split.m) - 1);
  } else {
    f = fround(split.m - 1);
  }
  const f2 = fround(f * f);
  let y = logP[0]!;
  for (let i = 1; i < logP.length; i++) y = fround(fround(y * f) + logP[i]!);
  y = fround(fround(y * f) * f2);
  y = fround(y + fround(e * ln2Lo));
  y = fround(y - fround(0.5 * f2));
  let z = fround(f + y);
  z = fround(z + fround(e * ln2Hi));
  return z;
}

// --- sin and cos ---------------------------------------------------------------------------

const fourOverPi = fround(1.2732395447351628);
// π/4 = dp1 + dp2 + dp3, each with few enough significant bits that j·dpK is exact for j < 2^13.
const dp1 = fround(0.78515625);
const dp2 = fround(2.4187564849853516e-4);
const dp3 = fround(3.774895063202166e-8);
const sinQ = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(fround);
const cosQ = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(fround);

/**
 * Largest |x| with full accuracy: beyond 8192 the three-part reduction loses bits (Cephes'
 * `lossth`). Larger inputs still give deterministic results, only less accurate ones.
 */
export const trigAccurateBound = 8192;

/** sin of the reduced argument r in [−π/4, π/4]. */
function sinReduced(r: number): number {
  const z = fround(r * r);
  let p = fround(fround(sinQ[0]! * z) + sinQ[1]!);
  p = fround(fround(p * z) + sinQ[2]!);
  return fround(fround(fround(p * z) * r) + r);
}

/** cos of the reduced argument r in [−π/4, π/4]. */
function cosReduced(r: number): number {
  const z = fround(r * r);
  let p = fround(fround(cosQ[0]! * z) + cosQ[1]!);
  p = fround(fround(p * z) + cosQ[2]!);
  p = fround(fround(p * z) * z);
  return fround(fround(p - fround(0.5 * z)) + 1);
}

/** |x| = octant·π/4 + r with an even octant, |r| ≤ π/4; octant taken mod 8. */
function reduce(ax: number): { octant: number; r: number } {
  let j = Math.trunc(fround(fourOverPi * ax));
  let y = j;
  if ((j & 1) === 1) {
    j += 1;
    y += 1;
  }
  const r = fround(fround(fround(ax - fround(y * dp1)) - fround(y * dp2)) - fround(y * dp3));
  return { octant: j & 7, r };
}

/** sin x in float32. Non-finite input gives NaN. */
export function sinf(x: number): number {
  x = fround(x);
  if (!Number.isFinite(x)) return Number.NaN;
  if (x === 0) return x;
  let negative = x < 0;
  const { octant, r } = reduce(Math.abs(x));
  let j = octant;
  if (j > 3) {
    negative = !negative;
    j -= 4;
  }
  const y = j === 1 || j === 2 ? cosReduced(r) : sinReduced(r);
  return negative ? -y : y;
}

/** cos x in float32. Non-finite input gives NaN. */
export function cosf(x: number): number {
  x = fround(x);
  if (!Number.isFinite(x)) return Number.NaN;
  let negative = false;
  const { octant, r } = reduce(Math.abs(x));
  let j = octant;
  if (j > 3) {
    negative = !negative;
    j -= 4;
  }
  if (j > 1) negative = !negative;
  const y = j === 1 || j === 2 ? sinReduced(r) : cosReduced(r);
  return negative ? -y : y;
}

// --- tanh ------------------------------------------------------------------------------------

const tanhP = [
  -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1,
].map(fround);
const tanhSaturation = fround(0.5 * 88.72283905206835); // beyond: tanh rounds to ±1

/** tanh x in float32. */
export function tanhf(x: number): number {
  x = fround(x);
  if (Number.isNaN(x) || x === 0) return x;
  const ax = Math.abs(x);
  if (ax > tanhSaturation) return x > 0 ? 1 : -1;
  if (ax >= 0.625) {
    // 1 − 2/(e^{2|x|} + 1): no cancellation for |x| ≥ 0.625.
    const s = expf(fround(ax + ax));
    const t = fround(1 - fround(2 / fround(s + 1)));
    return x > 0 ? t : -t;
  }
  const s = fround(x * x);
  let p = tanhP[0]!;
  for (let i = 1; i < tanhP.length; i++) p = fround(fround(p * s) + tanhP[i]!);
  return fround(fround(fround(p * s) * x) + x);
}
