import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { choosePath } from "../core/routing/relay-path.ts";
import { measuredHops, minMeasuredBytes, pathMeter, pathName } from "./path-meter.ts";

describe("path meter", () => {
  test("a path is unmeasured until a transfer of at least minMeasuredBytes", () => {
    const meter = pathMeter();
    meter.record(pathName("fra"), minMeasuredBytes - 1, 10);
    meter.record(pathName("fra"), 1_000_000, 0);
    assert.equal(meter.bytesPerSecond(pathName("fra")), undefined);
    meter.record(pathName("fra"), 1_000_000, 1_000);
    assert.equal(meter.bytesPerSecond(pathName("fra")), 1_000_000);
    assert.equal(meter.bytesPerSecond(pathName("fra", "zrh")), undefined, "the relayed path is another path");
  });

  test("measurements are averaged with weight one half on the newest", () => {
    const meter = pathMeter();
    meter.record(pathName("fra", "zrh"), 1_000_000, 1_000);
    meter.record(pathName("fra", "zrh"), 3_000_000, 1_000);
    assert.equal(meter.bytesPerSecond(pathName("fra", "zrh")), 2_000_000);
  });

  test("measured hops reproduce the measured end-to-end time in choosePath", () => {
    const direct = measuredHops(50_000, 1)[0]!;
    const [a, b] = measuredHops(1_000_000, 2);
    const choice = choosePath({
      bytes: 100_000,
      direct,
      relays: [{ id: "zrh", fromSource: a!, toDestination: b!, pricePerGigabyte: 0n }],
    });
    assert.equal(choice.chosen.kind, "relay");
    assert.equal(choice.chosen.predictedMs, 100, "100 kB at 1 MB/s end to end");
    assert.equal(choice.alternative?.predictedMs, 2_000, "100 kB at 50 kB/s");
  });
});
