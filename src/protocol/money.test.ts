import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { formatCredits, microPerCredit, microSchema, positiveMicroSchema } from "./money.ts";

describe("money", () => {
  it("formats micro-credits as exact decimal credits, trimming trailing zeros", () => {
    const cases: Array<[bigint, string]> = [
      [0n, "0"],
      [1n, "0.000001"],
      [10n, "0.00001"],
      [999_999n, "0.999999"],
      [1_000_000n, "1"],
      [12_500_000n, "12.5"],
      [1_000_001n, "1.000001"],
      [-1n, "-0.000001"],
      [-1_500_000n, "-1.5"],
      [10n ** 30n - 1n, "999999999999999999999999.999999"],
    ];
    for (const [micro, text] of cases) assert.equal(formatCredits(micro), text);
  });

  it("property: formatCredits loses nothing — the decimal text converts back to the same micro-credits", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), (m) => {
        const text = formatCredits(m);
        const negative = text.startsWith("-");
        const [whole = "", frac = ""] = text.replace("-", "").split(".");
        assert.match(text, /^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$/);
        const back = BigInt(whole) * microPerCredit + BigInt(frac.padEnd(6, "0"));
        assert.equal(negative ? -back : back, m);
      }),
    );
  });

  it("decodes a decimal string to bigint and encodes it back to the same string", () => {
    for (const s of ["0", "1", "1500000", "9".repeat(30)]) {
      const m = microSchema.parse(s);
      assert.equal(m, BigInt(s));
      assert.equal(z.encode(microSchema, m), s);
    }
  });

  it('error: amounts that are numbers, negative, "01", over 30 digits, fractional or padded are rejected', () => {
    for (const bad of [
      5,
      5.5,
      0,
      1n,
      "-1",
      "01",
      "00",
      "1".repeat(31),
      "1.5",
      "1e6",
      "",
      " 1",
      "1 ",
      "+1",
      "0x10",
      "١",
    ]) {
      assert.equal(microSchema.safeParse(bad).success, false, JSON.stringify(String(bad)));
    }
  });

  it('error: a positive amount refuses "0", which a plain amount accepts', () => {
    assert.equal(positiveMicroSchema.safeParse("0").success, false);
    assert.equal(microSchema.safeParse("0").success, true);
    assert.equal(positiveMicroSchema.parse("1"), 1n);
  });

  it("error: encoding a negative bigint as an amount fails rather than writing a negative string", () => {
    assert.equal(z.safeEncode(microSchema, -1n).success, false);
    assert.equal(z.safeEncode(positiveMicroSchema, 0n).success, false);
  });
});
