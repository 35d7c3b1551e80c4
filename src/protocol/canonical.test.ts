import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { canonicalBytes, canonicalize, maxDepth } from "./canonical.ts";
import { isSwitchyardError } from "./errors.ts";
import { jsonDepth, parseJsonLimited } from "./json.ts";

const rejects = (value: unknown, code: "MALFORMED" | "TOO_LARGE") =>
  assert.throws(
    () => canonicalize(value),
    (e) => isSwitchyardError(e, code),
  );

/** The double whose IEEE 754 bits are `hex` (big-endian), as RFC 8785 Appendix B lists them. */
function ieee754(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/** Nest `inner` inside `levels` arrays. */
const nested = (levels: number, inner: unknown = 1): unknown => {
  let v = inner;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};

describe("canonical JSON (RFC 8785)", () => {
  it("reproduces the RFC 8785 §3.2.2 example transformation", () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(
      canonicalize(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("sorts keys by UTF-16 code units, so an astral character (a surrogate pair) precedes U+FB33 (RFC 8785 §3.2.3)", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    assert.equal(
      canonicalize(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it("escapes strings as RFC 8785 §3.2.2.2 prescribes: short escapes, lowercase \\u00xx, everything else literal", () => {
    assert.equal(
      canonicalize('\u0000\u0001\b\t\n\f\r\u001f\u007f"\\/\u2028é😀'),
      '"\\u0000\\u0001\\b\\t\\n\\f\\r\\u001f\u007f\\"\\\\/\u2028é😀"',
    );
  });

  it("serializes every RFC 8785 Appendix B number exactly, and -0 as 0", () => {
    const vectors: Array<[string, string]> = [
      ["0000000000000000", "0"],
      ["8000000000000000", "0"],
      ["0000000000000001", "5e-324"],
      ["8000000000000001", "-5e-324"],
      ["7fefffffffffffff", "1.7976931348623157e+308"],
      ["ffefffffffffffff", "-1.7976931348623157e+308"],
      ["4340000000000000", "9007199254740992"],
      ["c340000000000000", "-9007199254740992"],
      ["4430000000000000", "295147905179352830000"],
      ["44b52d02c7e14af5", "9.999999999999997e+22"],
      ["44b52d02c7e14af6", "1e+23"],
      ["44b52d02c7e14af7", "1.0000000000000001e+23"],
      ["444b1ae4d6e2ef4e", "999999999999999700000"],
      ["444b1ae4d6e2ef4f", "999999999999999900000"],
      ["444b1ae4d6e2ef50", "1e+21"],
      ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
      ["3eb0c6f7a0b5ed8d", "0.000001"],
      ["41b3de4355555553", "333333333.3333332"],
      ["41b3de4355555554", "333333333.33333325"],
      ["41b3de4355555555", "333333333.3333333"],
      ["41b3de4355555556", "333333333.3333334"],
      ["41b3de4355555557", "333333333.33333343"],
      ["becbf647612f3696", "-0.0000033333333333333333"],
      ["43143ff3c1cb0959", "1424953923781206.2"],
    ];
    for (const [bits, expected] of vectors) assert.equal(canonicalize(ieee754(bits)), expected, bits);
  });

  it("omits an object property whose value is undefined, as an absent optional field", () => {
    assert.equal(canonicalize({ b: 1, a: undefined }), '{"b":1}');
  });

  it("encodes as UTF-8 bytes", () => {
    assert.deepEqual([...canonicalBytes({ "€": 1 })], [0x7b, 0x22, 0xe2, 0x82, 0xac, 0x22, 0x3a, 0x31, 0x7d]);
  });

  it("property: canonical bytes ignore key order", () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }).chain((v) => fc.tuple(fc.constant(v), shuffledCopy(v))),
        ([value, shuffled]) => {
          assert.equal(canonicalize(shuffled), canonicalize(value));
        },
      ),
    );
  });

  it("property: the canonical form parses back to the same value and is a fixed point", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const text = canonicalize(value);
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
        assert.equal(canonicalize(JSON.parse(text)), text);
      }),
    );
  });

  it("error: NaN, Infinity, bigint, functions and symbols are MALFORMED", () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, -Infinity, 1n, () => 1, Symbol("s")]) {
      rejects(v, "MALFORMED");
      rejects({ a: v }, "MALFORMED");
    }
  });

  it("error: undefined inside an array is MALFORMED (JSON.stringify would silently write null)", () => {
    rejects([1, undefined, 2], "MALFORMED");
    rejects(undefined, "MALFORMED");
  });

  it("error: a hole in a sparse array is MALFORMED, never the invalid text [,1]", () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is under test
    rejects([, 1], "MALFORMED");
    rejects(new Array(3), "MALFORMED");
  });

  it("error: a Map, Set, Date, class instance or byte array is MALFORMED rather than signed as {}", () => {
    class Point {
      x = 1;
    }
    for (const v of [new Map([["a", 1]]), new Set([1]), new Date(0), new Point(), new Uint8Array(2)]) {
      rejects(v, "MALFORMED");
    }
    assert.equal(canonicalize(Object.assign(Object.create(null), { a: 1 })), '{"a":1}');
  });

  it("error: a lone surrogate in a string or key is MALFORMED (RFC 8785 requires I-JSON)", () => {
    rejects("\ud800", "MALFORMED");
    rejects("a\udc00b", "MALFORMED");
    rejects({ "\ud83d": 1 }, "MALFORMED");
    assert.equal(canonicalize("\ud83d\ude00"), '"😀"');
  });

  it(`accepts exactly the nesting parseJsonLimited accepts: ${maxDepth} levels, and TOO_LARGE at ${maxDepth + 1}`, () => {
    for (const inner of [1, [], {}]) {
      // An empty array or object as the innermost value is itself one level.
      const own = typeof inner === "object" ? 1 : 0;
      const atLimit = nested(maxDepth - own, inner);
      const beyond = nested(maxDepth + 1 - own, inner);
      const text = canonicalize(atLimit);
      assert.equal(jsonDepth(text), maxDepth);
      assert.doesNotThrow(() => parseJsonLimited(text));
      rejects(beyond, "TOO_LARGE");
      assert.throws(
        () => parseJsonLimited(JSON.stringify(beyond)),
        (e) => isSwitchyardError(e, "TOO_LARGE"),
      );
    }
  });

  it("error: a cyclic value is TOO_LARGE, not a stack overflow", () => {
    const a: unknown[] = [];
    a.push(a);
    rejects(a, "TOO_LARGE");
  });
});

/** A deep copy of `v` whose objects list their keys in a random order. */
function shuffledCopy(v: unknown): fc.Arbitrary<unknown> {
  if (Array.isArray(v)) return fc.tuple(...v.map(shuffledCopy));
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v);
    const keys = entries.map(([k]) => k);
    return fc
      .tuple(
        fc.shuffledSubarray(keys, { minLength: keys.length }),
        fc.tuple(...entries.map(([, x]) => shuffledCopy(x))),
      )
      .map(([order, values]) => {
        const byKey = new Map(keys.map((k, i) => [k, values[i]]));
        return Object.fromEntries(order.map((k) => [k, byKey.get(k)]));
      });
  }
  return fc.constant(v);
}
