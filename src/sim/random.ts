/** A small seeded PRNG (SplitMix32) for simulations: the same seed gives the same run, anywhere. */
export class SimRandom {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return this.nextU32() % n;
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.nextU32() / 4294967296 < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.int(items.length)] as T;
  }
  bigint(max: bigint): bigint {
    return BigInt(this.nextU32()) % (max + 1n);
  }
}
