import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { concatBytes, fromHex, toHex, utf8 } from "./bytes.ts";
import { nobleEd25519 } from "./ed25519.noble.ts";
import { nodeEd25519 } from "./ed25519.node.ts";
import type { Ed25519 } from "./ed25519.ts";

const adapters: readonly Ed25519[] = [nodeEd25519, nobleEd25519];

const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
const message = fc.uint8Array({ maxLength: 256 });

/** RFC 8032 §7.1, tests 1–3: secret seed, public key, message, signature. */
const rfc8032 = [
  {
    name: "TEST 1 (empty message)",
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2 (one byte)",
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3 (two bytes)",
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
];

// --- adversarial signatures, built with raw curve arithmetic -------------------------------------

const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const p = 2n ** 255n - 19n;
const le32 = (n: bigint) => {
  const out = new Uint8Array(32);
  for (let i = 0, v = n; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
};
const fromLe = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array) => fromLe(sha512(concatBytes(r, a, m))) % L;

/** A point of order 8 (RFC 8032 small-order encodings list it), and all eight of its multiples. */
const order8 = Point.fromBytes(fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));
const torsion = Array.from({ length: 8 }, (_, k) =>
  k === 0 ? Point.ZERO : order8.multiplyUnsafe(BigInt(k)),
);

/** Every small-order encoding: the canonical eight, y + p where that still fits, x=0 with the sign bit. */
function smallOrderEncodings(): Uint8Array[] {
  const out = torsion.map((t) => t.toBytes());
  for (const t of torsion) {
    const bytes = t.toBytes();
    const y = fromLe(bytes) & ((1n << 255n) - 1n);
    if (y + p < 1n << 255n) out.push(le32((y + p) | (fromLe(bytes) & (1n << 255n))));
    if (t.x === 0n) out.push(le32(fromLe(bytes) | (1n << 255n)));
  }
  return out;
}

/**
 * A signature that plain cofactorless verification accepts for a small-order key: S = 0 and
 * R = -[k]A, found by trying each of the eight possible values of [k]A.
 */
function forgeForSmallOrderKey(a: Uint8Array, m: Uint8Array): Uint8Array | undefined {
  const A = Point.fromBytes(a, true);
  for (let j = 0n; j < 8n; j++) {
    const R = j === 0n ? Point.ZERO : A.multiplyUnsafe(j).negate();
    const r = R.toBytes();
    const k = challenge(r, a, m);
    const kA = k % 8n === 0n ? Point.ZERO : A.multiplyUnsafe(k % 8n);
    if (kA.add(R).equals(Point.ZERO)) return concatBytes(r, le32(0n));
  }
  return undefined;
}

/** An honest key's signature whose R carries an extra small-order component. */
function mixedOrderR(
  secret: Uint8Array,
  m: Uint8Array,
  torsionIndex: number,
): { a: Uint8Array; sig: Uint8Array } {
  const { scalar, pointBytes: a } = ed25519.utils.getExtendedPublicKey(secret);
  const rScalar = (fromLe(sha512(concatBytes(secret, m))) % (L - 1n)) + 1n;
  const r = Point.BASE.multiply(rScalar).add(torsion[torsionIndex]!).toBytes();
  const s = (rScalar + challenge(r, a, m) * scalar) % L;
  return { a, sig: concatBytes(r, le32(s)) };
}

/** A signature by the known scalar of A, checked against A + T (a key with a torsion component). */
function mixedOrderA(
  secret: Uint8Array,
  m: Uint8Array,
  torsionIndex: number,
): { a: Uint8Array; sig: Uint8Array } {
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(secret);
  const a = Point.fromBytes(pointBytes).add(torsion[torsionIndex]!).toBytes();
  const rScalar = (fromLe(sha512(concatBytes(m, secret))) % (L - 1n)) + 1n;
  const r = Point.BASE.multiply(rScalar).toBytes();
  const s = (rScalar + challenge(r, a, m) * scalar) % L;
  return { a, sig: concatBytes(r, le32(s)) };
}

const verdicts = (a: Uint8Array, m: Uint8Array, sig: Uint8Array) =>
  adapters.map((ed) => ed.verify(a, m, sig));

/** The bare cofactorless equation with lenient decoding: what these signatures are built to pass. */
function bareCofactorless(a: Uint8Array, m: Uint8Array, sig: Uint8Array): boolean {
  const r = sig.subarray(0, 32);
  const k = challenge(r, a, m);
  const s = fromLe(sig.subarray(32));
  const kA = k === 0n ? Point.ZERO : Point.fromBytes(a, true).multiplyUnsafe(k);
  const sB = s === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(s);
  return toHex(sB.subtract(kA).toBytes()) === toHex(r);
}

// --- specifications ----------------------------------------------------------------------------

describe("Ed25519 adapters (node:crypto and noble)", () => {
  for (const v of rfc8032) {
    for (const ed of adapters) {
      it(`${ed.name}: reproduces RFC 8032 ${v.name}`, () => {
        const secret = fromHex(v.secret);
        const m = fromHex(v.message);
        assert.equal(toHex(ed.publicKey(secret)), v.publicKey);
        assert.equal(toHex(ed.sign(secret, m)), v.signature);
        assert.equal(ed.verify(fromHex(v.publicKey), m, fromHex(v.signature)), true);
      });
    }
  }

  it("property: both derive the same public key and the same signature, and each verifies the other's", () => {
    fc.assert(
      fc.property(seed, message, (secret, m) => {
        const pub = nodeEd25519.publicKey(secret);
        assert.deepEqual(nobleEd25519.publicKey(secret), pub);
        const sig = nodeEd25519.sign(secret, m);
        assert.deepEqual(nobleEd25519.sign(secret, m), sig);
        assert.equal(nobleEd25519.verify(pub, m, sig), true);
        assert.equal(nodeEd25519.verify(pub, m, sig), true);
      }),
      { numRuns: 50 },
    );
  });

  it("property: a flipped bit in the message, signature or key makes both return false, never throw", () => {
    fc.assert(
      fc.property(
        seed,
        message,
        fc.nat(),
        fc.constantFrom("message", "signature", "key"),
        (secret, m, at, part) => {
          const pub = nodeEd25519.publicKey(secret);
          const sig = nodeEd25519.sign(secret, m);
          const flip = (b: Uint8Array) => {
            const c = b.slice();
            const i = at % (c.length * 8);
            c[i >> 3]! ^= 1 << (i & 7);
            return c;
          };
          const args: [Uint8Array, Uint8Array, Uint8Array] =
            part === "message"
              ? [pub, flip(m.length > 0 ? m : new Uint8Array(1)), sig]
              : part === "signature"
                ? [pub, m, flip(sig)]
                : [flip(pub), m, sig];
          assert.deepEqual(verdicts(...args), [false, false]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("error: wrong-length keys and signatures are false, not exceptions", () => {
    const secret = new Uint8Array(32).fill(3);
    const m = utf8("hello");
    const pub = nodeEd25519.publicKey(secret);
    const sig = nodeEd25519.sign(secret, m);
    for (const [a, s] of [
      [pub.subarray(0, 31), sig],
      [concatBytes(pub, new Uint8Array(1)), sig],
      [new Uint8Array(0), sig],
      [pub, sig.subarray(0, 63)],
      [pub, concatBytes(sig, new Uint8Array(1))],
      [pub, new Uint8Array(0)],
    ] as const) {
      assert.deepEqual(verdicts(a, m, s), [false, false]);
    }
  });

  it("error: a malleated signature (S + L, or S = L) is rejected by both", () => {
    const secret = new Uint8Array(32).fill(4);
    const m = utf8("pay 5");
    const pub = nodeEd25519.publicKey(secret);
    const sig = nodeEd25519.sign(secret, m);
    const s = fromLe(sig.subarray(32));
    assert.deepEqual(verdicts(pub, m, concatBytes(sig.subarray(0, 32), le32(s + L))), [false, false]);
    assert.deepEqual(verdicts(pub, m, concatBytes(sig.subarray(0, 32), le32(L))), [false, false]);
  });

  it("error: no small-order public key verifies, in any encoding, even with a signature cofactorless checks accept", () => {
    const m = utf8("anyone could have signed this");
    const encodings = smallOrderEncodings();
    assert.ok(encodings.length >= 8);
    let forgeries = 0;
    for (const a of encodings) {
      const forged = forgeForSmallOrderKey(a, m);
      if (forged === undefined) continue;
      forgeries++;
      // Without the key rule this would pass: the equation holds with S = 0 for any message.
      assert.ok(bareCofactorless(a, m, forged));
      assert.deepEqual(verdicts(a, m, forged), [false, false], toHex(a));
    }
    assert.ok(forgeries >= 8, `only ${forgeries} forgeries were built`);
  });

  it("error: an honest key's signature with a small-order component added to R is rejected by both", () => {
    fc.assert(
      fc.property(seed, message, fc.integer({ min: 1, max: 7 }), (secret, m, t) => {
        const { a, sig } = mixedOrderR(secret, m, t);
        // noble's own verify (cofactored, ZIP-215) accepts it; node:crypto does not.
        assert.equal(ed25519.verify(sig, m, a), true);
        assert.deepEqual(verdicts(a, m, sig), [false, false]);
      }),
      { numRuns: 20 },
    );
  });

  it("property: for a key with a torsion component both adapters reach the same verdict", () => {
    fc.assert(
      fc.property(seed, message, fc.integer({ min: 1, max: 7 }), (secret, m, t) => {
        const { a, sig } = mixedOrderA(secret, m, t);
        // Cofactorless: valid exactly when [k]T vanishes, which happens for some messages.
        const expected = bareCofactorless(a, m, sig);
        assert.deepEqual(verdicts(a, m, sig), [expected, expected]);
      }),
      { numRuns: 40 },
    );
  });

  it("accepts a key with a torsion component when the cofactorless equation holds exactly, in both adapters", () => {
    const secret = new Uint8Array(32).fill(5);
    // Search messages until [k]T = 0 for an order-2 torsion point (half of all messages qualify).
    for (let i = 0; i < 64; i++) {
      const m = utf8(`message ${i}`);
      const { a, sig } = mixedOrderA(secret, m, 4);
      if (!bareCofactorless(a, m, sig)) continue;
      assert.deepEqual(verdicts(a, m, sig), [true, true]);
      return;
    }
    assert.fail("no message with an even challenge in 64 tries");
  });

  it("property: random keys and signatures get the same verdict (false) from both", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        message,
        (a, sig, m) => {
          assert.deepEqual(verdicts(a, m, sig), [false, false]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
