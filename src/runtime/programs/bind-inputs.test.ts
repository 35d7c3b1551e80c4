import assert from "node:assert/strict";
import { test } from "node:test";
import { isSwitchyardError } from "../../protocol/errors.ts";
import { bindInputs } from "./bind-inputs.ts";

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

test("upstream fields bind by name only where the program declares them and the parameters do not", () => {
  const input = bindInputs("mlp-eval", { part: "test" }, [
    json({ model: "abcd", trainLoss: 0.1, part: "train" }),
  ]);
  assert.deepEqual(input, { part: "test", model: "abcd" });
});

test("an upstream field named like an Object.prototype member does not bind", () => {
  // `"constructor" in shape` is true through the prototype chain; binding it would make a valid
  // pipeline fail its program's strict schema.
  const input = bindInputs("mlp-eval", {}, [json({ model: "ab", constructor: 1, toString: 2 })]);
  assert.deepEqual(Object.keys(input), ["model"]);
});

test("error: an upstream output that is not JSON is MALFORMED", () => {
  assert.throws(
    () => bindInputs("mlp-eval", {}, [new Uint8Array([0xff, 0x00])]),
    (e: unknown) => isSwitchyardError(e, "MALFORMED"),
  );
});
