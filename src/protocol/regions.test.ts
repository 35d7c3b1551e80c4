import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { regionOf } from "./regions.ts";

describe("market regions", () => {
  test("regions are continents; an unknown country is its own region", () => {
    assert.equal(regionOf("DE"), "Europe");
    assert.equal(regionOf("US"), "North America");
    assert.equal(regionOf("BR"), "South America");
    assert.equal(regionOf("SG"), "Asia");
    assert.equal(regionOf("ZA"), "Africa");
    assert.equal(regionOf("AU"), "Oceania");
    assert.equal(regionOf("QQ"), "QQ");
  });
});
