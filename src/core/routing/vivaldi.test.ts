import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applySamples,
  initialCoordinate,
  predictedRttMs,
  type RttSample,
  updateCoordinate,
} from "./vivaldi.ts";

/** A synthetic metric space: points in a plane plus an access delay per node, RTT in ms. */
function syntheticSpace(n: number) {
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  const nodes = Array.from({ length: n }, () => ({ x: next() * 200, y: next() * 200, h: 1 + next() * 4 }));
  const rtt = (a: number, b: number) =>
    Math.sqrt((nodes[a]!.x - nodes[b]!.x) ** 2 + (nodes[a]!.y - nodes[b]!.y) ** 2) +
    nodes[a]!.h +
    nodes[b]!.h;
  return { nodes, rtt, next };
}

describe("vivaldi", () => {
  it("converges on a synthetic metric space from 8 peers per node (median error on unprobed pairs < 5 %)", () => {
    const n = 60;
    const { rtt, next } = syntheticSpace(n);
    const peers = Array.from({ length: n }, (_, i) =>
      Array.from({ length: 8 }, (_, k) => (i + 1 + k * 7) % n),
    );
    let coords = Array.from({ length: n }, () => initialCoordinate([0, 0]));
    for (let round = 0; round < 400; round++) {
      const samples: RttSample[] = [];
      for (let i = 0; i < n; i++) {
        const j = peers[i]![Math.floor(next() * 8)]!;
        samples.push({ from: i, to: j, rttMs: rtt(i, j) });
      }
      coords = applySamples(coords, samples);
    }
    const errors: number[] = [];
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        if (peers[a]!.includes(b) || peers[b]!.includes(a)) continue;
        errors.push(Math.abs(predictedRttMs(coords[a]!, coords[b]!) - rtt(a, b)) / rtt(a, b));
      }
    }
    errors.sort((x, y) => x - y);
    const median = errors[Math.floor(errors.length / 2)]!;
    assert.ok(median < 0.05, `median relative error ${median}`);
  });

  it("is deterministic: coincident points separate along a direction fixed by the two ids", () => {
    const a = updateCoordinate(initialCoordinate([0, 0, 0]), initialCoordinate([0, 0, 0]), 50, 3, 9);
    const b = updateCoordinate(initialCoordinate([0, 0, 0]), initialCoordinate([0, 0, 0]), 50, 3, 9);
    assert.deepEqual(a, b);
    assert.ok(predictedRttMs(a, initialCoordinate([0, 0, 0])) > 0.2);
  });

  it("error: a lost or nonsense sample moves nothing", () => {
    const c = initialCoordinate([1, 2]);
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(updateCoordinate(c, initialCoordinate([5, 5]), bad, 0, 1), c);
    }
  });

  it("heights stay at or above the floor", () => {
    let c = initialCoordinate([0, 0], 5);
    for (let i = 0; i < 50; i++) c = updateCoordinate(c, initialCoordinate([10, 0], 5), 1, 0, 1);
    assert.ok(c.height >= 0.1);
  });
});
