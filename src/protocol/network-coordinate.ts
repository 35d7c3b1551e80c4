/**
 * A node's network coordinate as it travels: in the signed `reportCoordinate` message, in the node
 * view of the API and in an agent's ping reply. The agents keep Vivaldi coordinates (DESIGN.md §4,
 * src/core/routing/vivaldi.ts) in floating point; what is signed, logged and replayed is integers —
 * microseconds of round-trip time and parts per million — so the core never stores a float that
 * a replica might print or round differently (docs/decisions/005: numbers in messages are allowed,
 * but the core's own state uses integers for what orders anything).
 */
import { z } from "zod";

/** Axes of a coordinate: the geographic prior is a point on a sphere, so three (docs/routing.md). */
export const coordinateDimensions = 3;

/**
 * Bound on every axis and on the height, µs: 1,000 s. Real round trips are below a few seconds and
 * probes time out long before this, so a value near the bound is nonsense rather than geography.
 */
export const maxCoordinateUs = 1_000_000_000;

/** Bound on the error estimate, ppm: 10 (the agents cap it at 1.5). */
export const maxCoordinateErrorPpm = 10_000_000;

const axis = z.number().int().min(-maxCoordinateUs).max(maxCoordinateUs);

export const networkCoordinateSchema = z.strictObject({
  /** The point, one integer per axis, in µs of round-trip time. */
  vectorUs: z.array(axis).length(coordinateDimensions),
  /** The part of every RTT that no direction explains (the access link), µs. */
  heightUs: z.number().int().min(0).max(maxCoordinateUs),
  /** The node's own relative error estimate, ppm (1,000,000 = 100 %; 1,000,000 at start). */
  errorPpm: z.number().int().min(0).max(maxCoordinateErrorPpm),
});

export type NetworkCoordinate = z.output<typeof networkCoordinateSchema>;

/** Body of `reportCoordinate`: the signer's current coordinate, replacing the one stored before. */
export const reportCoordinateSchema = z.strictObject({ coordinate: networkCoordinateSchema });
