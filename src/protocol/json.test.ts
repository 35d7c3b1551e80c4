import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSwitchyardError } from "./errors.ts";
import { defaultJsonLimits, jsonDepth, parseJsonLimited } from "./json.ts";

const code = (fn: () => unknown, expected: "TOO_LARGE" | "MALFORMED") =>
  assert.throws(fn, (e) => isSwitchyardError(e, expected));

describe("parseJsonLimited", () => {
  it("parses JSON within the limits", () => {
    assert.deepEqual(parseJsonLimited('{"a":[1,{"b":null}],"c":"x"}'), { a: [1, { b: null }], c: "x" });
  });

  it("error: a body over maxBytes is TOO_LARGE, counting UTF-8 bytes rather than characters", () => {
    const limits = { maxBytes: 30, maxDepth: 8 };
    assert.doesNotThrow(() => parseJsonLimited(`"${"a".repeat(28)}"`, limits));
    code(() => parseJsonLimited(`"${"a".repeat(29)}"`, limits), "TOO_LARGE");
    // Ten euro signs are 12 characters of JSON but 32 bytes.
    code(() => parseJsonLimited(`"${"€".repeat(10)}"`, limits), "TOO_LARGE");
    assert.throws(
      () => parseJsonLimited(" ".repeat(defaultJsonLimits.maxBytes + 1)),
      (e) => isSwitchyardError(e, "TOO_LARGE") && e.details["limit"] === defaultJsonLimits.maxBytes,
    );
  });

  it("error: 100,000 nested brackets are TOO_LARGE without JSON.parse ever seeing them", (t) => {
    const parse = t.mock.method(JSON, "parse");
    code(() => parseJsonLimited("[".repeat(100_000)), "TOO_LARGE");
    code(() => parseJsonLimited(`${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`), "TOO_LARGE");
    assert.equal(parse.mock.callCount(), 0);
  });

  it(`accepts exactly maxDepth (${defaultJsonLimits.maxDepth}) levels of nesting`, () => {
    const d = defaultJsonLimits.maxDepth;
    assert.doesNotThrow(() => parseJsonLimited(`${"[".repeat(d)}${"]".repeat(d)}`));
    code(() => parseJsonLimited(`${"[".repeat(d + 1)}${"]".repeat(d + 1)}`), "TOO_LARGE");
  });

  it("brackets inside strings do not count toward depth, including after escaped quotes and backslashes", () => {
    const limits = { maxBytes: 1 << 16, maxDepth: 2 };
    for (const text of [
      JSON.stringify(["[".repeat(1000)]),
      JSON.stringify({ a: `\\"${"{".repeat(100)}` }),
      JSON.stringify(["\\", "[[[[", '"]]]]']),
    ]) {
      assert.ok(jsonDepth(text) <= 2, text.slice(0, 40));
      assert.doesNotThrow(() => parseJsonLimited(text, limits));
    }
    // A string ending in a backslash must not hide the real brackets after it.
    code(() => parseJsonLimited(`["\\\\",[[1]]]`, limits), "TOO_LARGE");
  });

  it("jsonDepth counts arrays and objects the way canonical JSON does", () => {
    assert.equal(jsonDepth("1"), 0);
    assert.equal(jsonDepth("[]"), 1);
    assert.equal(jsonDepth('[[],{"a":{}}]'), 3);
    assert.equal(jsonDepth('"[{"'), 0);
  });

  it("error: malformed JSON is MALFORMED, with the parser's error as the cause", () => {
    for (const text of ["", "{", '{"a":}', "[1,]", "{'a':1}", "NaN", "[1] [2]", '"\\x"']) {
      assert.throws(
        () => parseJsonLimited(text),
        (e) => isSwitchyardError(e, "MALFORMED") && e.cause instanceof SyntaxError,
        JSON.stringify(text),
      );
    }
  });
});
