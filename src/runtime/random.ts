/**
 * Seeded pseudo-random numbers for programs: SplitMix32 over one 32-bit integer state. Only
 * integer operations (Math.imul, shifts, xor), which are exact on every engine, so a seed names one
 * sequence everywhere; the state is a single u32 that a checkpoint can carry. Not cryptographic:
 * it decides weight initialisation and data order, never anything an adversary could profit from.
 */

/** The SplitMix32 output function: a bijective avalanche of a 32-bit counter. */
function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A new independent seed from a seed and stream labels, e.g. (seed, "shuffle", epoch). */
export function deriveSeed(seed: number, ...labels: readonly (number | string)[]): number {
  let h = mix32(seed >>> 0);
  for (const label of labels) {
    if (typeof label === "number") h = mix32((h ^ mix32(label >>> 0)) + 0x9e3779b9);
    else for (let i = 0; i < label.length; i++) h = mix32((h ^ label.charCodeAt(i)) + 0x9e3779b9);
  }
  return h;
}

export class SplitMix32 {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next uniformly distributed u32. */
  nextUint32(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    return mix32(this.#state);
  }

  /** Uniform float32 in [0, 1): the top 24 bits times 2^-24, which is exact. */
  nextUnit(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Integer in [0, n) by multiply-high; the product is exact in binary64 for n ≤ 2^21. */
  nextBelow(n: number): number {
    return Math.floor((this.nextUint32() * n) / 4294967296);
  }
}

/** Fisher–Yates shuffle of `items` in place with `rng`; returns `items`. */
export function shuffleInPlace(items: Uint32Array, rng: SplitMix32): Uint32Array {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}
