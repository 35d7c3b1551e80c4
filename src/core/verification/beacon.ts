/**
 * Randomness from the log (DESIGN.md §2): `beacon(prev, domain) = H(prev hash ‖ domain)`. Taken from
 * the hash of an event sequenced AFTER the provider's commitment, it is unknown to the provider
 * when it commits, and it is the same for everyone who replays the log.
 *
 * Integers are drawn by rejection sampling, so they are exactly uniform: a 256-bit draw x is kept
 * only below the largest multiple of n that fits in 2^256, and otherwise redrawn with a counter.
 * The chance of a redraw is below n / 2^256 — for every n used here, never in practice.
 */
import { concatBytes, fromHex, utf8 } from "../../protocol/bytes.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";

/** One million: probabilities in the verification layer are integer parts per million. */
export const ppmScale = 1_000_000;
const two256 = 1n << 256n;

/**
 * The beacon for `domain` after the event whose hash is `prevHash`.
 *
 * @example
 * const b = beacon(commitEventHash, `spot/${jobId}/${stage}`);
 */
export function beacon(prevHash: Hex32, domain: string): Hex32 {
  return taggedHash("beacon", concatBytes(fromHex(prevHash), utf8(domain)));
}

/**
 * An exactly uniform integer in [0, n) derived from `seed`; `draw` separates independent draws
 * from one seed (the k-th verifier, the segment, ...).
 *
 * @example
 * uniformBelow(beacon(h, "segment/j1/train"), 16n); // 0n … 15n
 */
export function uniformBelow(seed: Hex32, n: bigint, draw = 0): bigint {
  if (n < 1n) throw new SwitchyardError("MALFORMED", `cannot draw below ${n}: n must be positive`);
  const limit = two256 - (two256 % n);
  for (let counter = 0; ; counter++) {
    const x = BigInt(`0x${taggedHash("beacon-draw", utf8(`${seed}/${draw}/${counter}`))}`);
    if (x < limit) return x % n;
  }
}

/**
 * True with probability `ppm` / 1,000,000, exactly: a uniform draw below one million.
 *
 * @example
 * chancePpm(seed, 250_000); // true one time in four
 */
export function chancePpm(seed: Hex32, ppm: number, draw = 0): boolean {
  checkPpm(ppm, "probability");
  return uniformBelow(seed, BigInt(ppmScale), draw) < BigInt(ppm);
}

/** Throws MALFORMED unless `ppm` is an integer in [0, 1,000,000]. */
export function checkPpm(ppm: number, what: string): void {
  if (!Number.isSafeInteger(ppm) || ppm < 0 || ppm > ppmScale) {
    throw new SwitchyardError("MALFORMED", `${what} must be an integer ppm in [0, 1000000], got ${ppm}`, {
      details: { [what]: ppm },
    });
  }
}
