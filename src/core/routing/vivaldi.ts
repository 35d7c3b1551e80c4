/**
 * Vivaldi network coordinates with a height term (Dabek, Cox, Kaashoek, Morris, "Vivaldi: A
 * Decentralized Network Coordinate System", SIGCOMM 2004, §3–§5): each node keeps a point in a
 * low-dimensional Euclidean space plus a non-negative height (its access link), and moves it after
 * every RTT sample to one peer, like a mass on a spring. The RTT between any two nodes is then
 * predicted from their coordinates alone, without all-pairs probing.
 *
 * Predicted RTT(i, j) = ‖x_i − x_j‖ + h_i + h_j.
 *
 * Update of node i after measuring `rtt` to node j (the adaptive timestep of §4.3, the height
 * handling of Hashicorp Serf's implementation, which follows §5.3):
 *
 *   w   = e_i / (e_i + e_j)                 confidence weight
 *   e_s = |‖x_i − x_j‖ + h_i + h_j − rtt| / rtt
 *   e_i ← e_s·c_e·w + e_i·(1 − c_e·w)        local error estimate, moving average
 *   δ   = c_c·w                              adaptive timestep
 *   f   = δ·(rtt − predicted)                spring force
 *   x_i ← x_i + f·u(x_i − x_j)               u = unit vector
 *   h_i ← max(h_min, h_i + f·(h_i + h_j)/‖x_i − x_j‖)
 *
 * Deterministic by construction (DESIGN.md §2): only +, −, ×, ÷ and Math.sqrt, all correctly
 * rounded IEEE operations, so every replica computes identical bits from identical samples. When two
 * points coincide, the direction is derived from the two node ids instead of a random number.
 */
import {
  deterministicCos,
  deterministicSin,
  earthRadiusKm,
  fibreKmPerMs,
  type GeoPoint,
  latencyModel,
} from "../../protocol/geo.ts";

/** A node's coordinate: a point in `dimensions` ms-scaled axes, a height and an error estimate. */
export interface VivaldiCoordinate {
  readonly vector: readonly number[];
  /** Non-negative, ms: the part of every RTT that no direction explains (the access link). */
  readonly height: number;
  /** Local relative error estimate in [0, maxError]; 1 at start ("nothing known yet"). */
  readonly error: number;
}

export interface VivaldiConfig {
  /** Error-estimate gain c_e (Dabek: 0.25). */
  readonly errorGain: number;
  /** Timestep gain c_c (Dabek: 0.25). */
  readonly timestepGain: number;
  /** Floor on heights, ms. */
  readonly minHeightMs: number;
  /** Ceiling on the error estimate, so one wild sample cannot pin a node. */
  readonly maxError: number;
}

export const defaultVivaldiConfig: VivaldiConfig = {
  errorGain: 0.25,
  timestepGain: 0.25,
  minHeightMs: 0.1,
  maxError: 1.5,
};

/**
 * The built-in latency model as a starting point: the node's position on a sphere scaled so that
 * chord distances are in RTT milliseconds (stretch × 2 / c_fibre per km, docs/latency.md), and half
 * the model's base RTT as height. Starting here instead of at the origin, the coordinates only have
 * to learn where real routes differ from geography (the 3 axes hold the sphere exactly).
 */
export function geoPriorCoordinate(point: GeoPoint): VivaldiCoordinate {
  const lat = point.latE6 * radiansPerMicroDegree;
  const lon = point.lonE6 * radiansPerMicroDegree;
  const radiusMs = (earthRadiusKm * 2 * latencyModel.stretch) / fibreKmPerMs;
  const cosLat = deterministicCos(lat);
  return initialCoordinate(
    [
      radiusMs * cosLat * deterministicCos(lon),
      radiusMs * cosLat * deterministicSin(lon),
      radiusMs * deterministicSin(lat),
    ],
    latencyModel.baseMs / 2,
  );
}

const radiansPerMicroDegree = Math.PI / 180e6;

/** A fresh coordinate at `vector` (the origin when no prior is known) with full uncertainty. */
export function initialCoordinate(vector: readonly number[], heightMs = 0.1): VivaldiCoordinate {
  return { vector: [...vector], height: heightMs, error: 1 };
}

/** Predicted RTT in ms between two coordinates: Euclidean distance plus both heights. */
export function predictedRttMs(a: VivaldiCoordinate, b: VivaldiCoordinate): number {
  return euclidean(a.vector, b.vector) + a.height + b.height;
}

function euclidean(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) {
    const d = a[k]! - b[k]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * A direction for two coincident points that depends only on the two ids (a small integer hash),
 * so replicas agree without a random number.
 */
function tieDirection(dimensions: number, selfId: number, peerId: number): number[] {
  let h = (Math.imul(selfId + 1, 0x9e3779b1) ^ Math.imul(peerId + 1, 0x85ebca77)) >>> 0;
  const v: number[] = [];
  for (let k = 0; k < dimensions; k++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    v.push((h % 2001) / 1000 - 1);
  }
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return n === 0 ? v.map((_, k) => (k === 0 ? 1 : 0)) : v.map((x) => x / n);
}

/**
 * Node `self` moves after one RTT sample to `peer`. Samples that are not positive and finite are
 * ignored (the coordinate is returned unchanged): a lost probe must not move anyone.
 *
 * @example
 * let a = initialCoordinate([0, 0]);
 * a = updateCoordinate(a, initialCoordinate([0, 0]), 40, 1, 2); // a moves away from b
 */
export function updateCoordinate(
  self: VivaldiCoordinate,
  peer: VivaldiCoordinate,
  rttMs: number,
  selfId: number,
  peerId: number,
  config: VivaldiConfig = defaultVivaldiConfig,
): VivaldiCoordinate {
  if (!(rttMs > 0) || !Number.isFinite(rttMs)) return self;
  const dimensions = self.vector.length;
  const distance = euclidean(self.vector, peer.vector);
  const predicted = distance + self.height + peer.height;
  const totalError = self.error + peer.error;
  const weight = totalError > 0 ? self.error / totalError : 0.5;
  const sampleError = Math.abs(predicted - rttMs) / rttMs;
  const error = Math.min(
    config.maxError,
    sampleError * config.errorGain * weight + self.error * (1 - config.errorGain * weight),
  );
  const force = config.timestepGain * weight * (rttMs - predicted);
  const unit =
    distance > 1e-9
      ? self.vector.map((x, k) => (x - peer.vector[k]!) / distance)
      : tieDirection(dimensions, selfId, peerId);
  const vector = self.vector.map((x, k) => x + force * unit[k]!);
  let height = self.height;
  if (distance > 1e-9) height = self.height + (force * (self.height + peer.height)) / distance;
  if (height < config.minHeightMs) height = config.minHeightMs;
  return { vector, height, error };
}

/** One measured RTT between two nodes (indices into a coordinate array). */
export interface RttSample {
  readonly from: number;
  readonly to: number;
  readonly rttMs: number;
}

/**
 * Applies samples in order, each moving its `from` node (the prober) against the current coordinate
 * of its `to` node. Returns new coordinates; the input array is not changed.
 */
export function applySamples(
  coordinates: readonly VivaldiCoordinate[],
  samples: Iterable<RttSample>,
  config: VivaldiConfig = defaultVivaldiConfig,
): VivaldiCoordinate[] {
  const out = [...coordinates];
  for (const s of samples) {
    const self = out[s.from];
    const peer = out[s.to];
    if (self === undefined || peer === undefined || s.from === s.to) continue;
    out[s.from] = updateCoordinate(self, peer, s.rttMs, s.from, s.to, config);
  }
  return out;
}
