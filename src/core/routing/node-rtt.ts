/**
 * The round-trip time between two registered nodes, predicted from the network coordinates they
 * reported (`reportCoordinate`, measured by their agents over the real transport) or, while either
 * has none, from geography (the built-in model of src/protocol/geo.ts). This is how the coordinator
 * answers "how far apart are these two?" for any pair without all-pairs probing (DESIGN.md §4).
 *
 * Also the conversion between the agents' floating-point Vivaldi coordinates and the integer form
 * that is signed and stored (µs, ppm; src/protocol/network-coordinate.ts).
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { type GeoPoint, predictRttMs } from "../../protocol/geo.ts";
import {
  coordinateDimensions,
  maxCoordinateErrorPpm,
  maxCoordinateUs,
  type NetworkCoordinate,
} from "../../protocol/network-coordinate.ts";
import { predictedRttMs, type VivaldiCoordinate } from "./vivaldi.ts";

/** What a prediction needs of a node: where it is, and its coordinate if it reported one. */
export interface RttEndpoint extends GeoPoint {
  readonly coordinate?: NetworkCoordinate | undefined;
}

export type RttPrediction =
  | {
      /** Whole milliseconds. */
      readonly rttMs: number;
      readonly source: "coordinates";
      /** The larger of the two nodes' own error estimates, ppm: how much to trust the figure. */
      readonly errorPpm: number;
    }
  | { readonly rttMs: number; readonly source: "geo" };

/**
 * Predicted RTT in whole ms between two nodes: ‖x_a − x_b‖ + h_a + h_b from their reported
 * coordinates, or `predictRttMs` between their locations when either has not reported one yet.
 * Deterministic (integers in, only ÷ and Math.sqrt on the way), so every replica agrees.
 *
 * @example
 * predictRtt(state.nodes.get(a)!, state.nodes.get(b)!) // { rttMs: 152, source: "coordinates", errorPpm: 80_000 }
 */
export function predictRtt(a: RttEndpoint, b: RttEndpoint): RttPrediction {
  if (a.coordinate === undefined || b.coordinate === undefined) {
    return { rttMs: predictRttMs(a, b), source: "geo" };
  }
  const rtt = predictedRttMs(vivaldiFromCoordinate(a.coordinate), vivaldiFromCoordinate(b.coordinate));
  return {
    rttMs: Math.round(rtt),
    source: "coordinates",
    errorPpm: Math.max(a.coordinate.errorPpm, b.coordinate.errorPpm),
  };
}

const usPerMs = 1000;
const ppm = 1_000_000;

/** A stored coordinate as the Vivaldi update works with it (ms, relative error). */
export function vivaldiFromCoordinate(c: NetworkCoordinate): VivaldiCoordinate {
  return {
    vector: c.vectorUs.map((v) => v / usPerMs),
    height: c.heightUs / usPerMs,
    error: c.errorPpm / ppm,
  };
}

/** Rounded to an integer and clamped to [min, max]; −0 becomes 0, as it would after a round trip through JSON. */
function toInteger(value: number, min: number, max: number): number {
  const rounded = Math.round(value) + 0;
  return rounded < min ? min : rounded > max ? max : rounded;
}

/**
 * The integer form of a Vivaldi coordinate, rounded to µs and ppm and clamped to the bounds the
 * message accepts. MALFORMED when it has the wrong number of axes or a value that is not finite:
 * such a coordinate is a bug in whoever computed it, not something to round.
 *
 * @example coordinateFromVivaldi({ vector: [1.2345, 0, -3], height: 3.4, error: 0.25 })
 * // { vectorUs: [1235, 0, -3000], heightUs: 3400, errorPpm: 250000 }
 */
export function coordinateFromVivaldi(c: VivaldiCoordinate): NetworkCoordinate {
  const values = [...c.vector, c.height, c.error];
  if (c.vector.length !== coordinateDimensions || !values.every(Number.isFinite)) {
    throw new SwitchyardError(
      "MALFORMED",
      `a network coordinate has ${coordinateDimensions} finite axes, a finite height and error`,
    );
  }
  return {
    vectorUs: c.vector.map((v) => toInteger(v * usPerMs, -maxCoordinateUs, maxCoordinateUs)),
    heightUs: toInteger(c.height * usPerMs, 0, maxCoordinateUs),
    errorPpm: toInteger(c.error * ppm, 0, maxCoordinateErrorPpm),
  };
}
