/**
 * Direct or relayed: the path a blob takes from the provider that holds it to the one that needs it
 * (DESIGN.md §4: "through relay providers when a relayed path is predicted faster or the direct one
 * fails" — resilient overlay routing, Andersen et al., SOSP 2001).
 *
 * A hop takes one RTT plus the bytes at its bandwidth (`transferMs`, the same model as the
 * placement's edges). A relay stores and forwards (agent/relay.ts fetches the whole blob, checks it
 * against its cid, then serves it), so a relayed path takes the sum of its two hops. Paths are
 * ranked by predicted time — or, when the requester's value of time is given, by time value plus
 * fees — then by fee, then direct before relayed, then by relay id, so the choice is a pure function
 * of its input.
 *
 * Fees are integer micro-credits. Prices are per gigabyte (10^9 bytes) because a per-byte price in
 * micro-credits would be fractional (US$0.01/GB is 0.00001 µ/byte); a fee is rounded up, so a relay
 * is never paid below its price. Hop prices are the sender's bandwidth (egress) price; the relay's
 * own price is for the bytes it forwards.
 *
 * Fallback: a request that says the direct path failed never chooses it again, nor a relay that
 * failed; with nothing left the answer is UNREACHABLE.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { timeValue, transferMs } from "./effective-cost.ts";

export interface Hop {
  /** Predicted round trip between the two ends, ms. */
  readonly rttMs: number;
  /** Predicted throughput, bytes per second (the slower end's uplink). */
  readonly bytesPerSecond: number;
  /** What the sending end charges for its bandwidth, micro-credits per 10^9 bytes (default 0). */
  readonly pricePerGigabyte?: bigint;
}

export interface RelayOption {
  readonly id: string;
  /** Source → relay. */
  readonly fromSource: Hop;
  /** Relay → destination. */
  readonly toDestination: Hop;
  /** The relay's price for forwarding, micro-credits per 10^9 bytes. */
  readonly pricePerGigabyte: bigint;
}

export interface PathRequest {
  /** Bytes to move (the sealed blob's size). */
  readonly bytes: number;
  /** Source → destination; absent when no direct path is known. */
  readonly direct?: Hop;
  readonly relays: readonly RelayOption[];
  /** The direct path was tried and failed: take the best relay. */
  readonly directFailed?: boolean;
  /** Relays tried and failed: not chosen again. */
  readonly failedRelays?: readonly string[];
  /** When given (micro-credits per second of waiting), rank by time value + fees instead of time. */
  readonly valueOfTimePerSecond?: number;
}

export interface PathEstimate {
  readonly kind: "direct" | "relay";
  /** The relay's id, for a relayed path. */
  readonly relay?: string;
  /** Predicted transfer time: the sum of `hopsMs`. */
  readonly predictedMs: number;
  readonly hopsMs: readonly number[];
  /** Bandwidth fees of the hops plus the relay's fee, micro-credits. */
  readonly fee: bigint;
  readonly relayFee: bigint;
  /** What ranks the paths: predicted ms, or time value + fee with a value of time. */
  readonly score: bigint;
}

export type PathReason =
  /** The best-ranked of direct and relayed paths. */
  | "best-predicted"
  /** The direct path failed; the best relay that has not failed. */
  | "direct-failed"
  /** No direct path is known; the best relay. */
  | "no-direct-path";

export interface PathChoice {
  readonly chosen: PathEstimate;
  /** The best path not chosen (not failed), or null when there is none. */
  readonly alternative: PathEstimate | null;
  readonly reason: PathReason;
  /** Every path still possible, best first. */
  readonly candidates: readonly PathEstimate[];
}

/**
 * Choose how to move `bytes`: direct or through the best relay, with the runner-up for explanation.
 *
 * @throws SwitchyardError MALFORMED on negative or non-finite inputs or duplicate relay ids;
 *   UNREACHABLE when every path has failed or none is known.
 * @example
 * choosePath({ bytes: 50e6, direct: { rttMs: 180, bytesPerSecond: 1e6 },
 *   relays: [{ id: "ams", fromSource: { rttMs: 90, bytesPerSecond: 1e8 },
 *              toDestination: { rttMs: 95, bytesPerSecond: 1e8 }, pricePerGigabyte: 10_000n }] })
 * // chosen: relay "ams", 1,185 ms, fee 500 µ; alternative: direct, 50,180 ms
 */
export function choosePath(request: PathRequest): PathChoice {
  checkRequest(request);
  const failed = new Set(request.failedRelays ?? []);
  const candidates: PathEstimate[] = [];
  if (request.direct !== undefined && request.directFailed !== true) {
    candidates.push(estimate(request, [request.direct], 0n));
  }
  for (const relay of request.relays) {
    if (failed.has(relay.id)) continue;
    candidates.push({
      ...estimate(request, [relay.fromSource, relay.toDestination], relay.pricePerGigabyte),
      kind: "relay",
      relay: relay.id,
    });
  }
  candidates.sort(byRank);
  const chosen = candidates[0];
  if (chosen === undefined) {
    throw new SwitchyardError(
      "UNREACHABLE",
      request.directFailed === true
        ? `the direct path failed and no relay is left (${failed.size} failed of ${request.relays.length})`
        : "no direct path and no relay is known",
      { details: { relays: request.relays.length, failedRelays: [...failed] } },
    );
  }
  const reason: PathReason =
    request.directFailed === true
      ? "direct-failed"
      : request.direct === undefined
        ? "no-direct-path"
        : "best-predicted";
  return { chosen, alternative: candidates[1] ?? null, reason, candidates };
}

/** ceil(bytes × price / 10^9), micro-credits. */
export function bandwidthFee(bytes: number, pricePerGigabyte: bigint): bigint {
  if (bytes <= 0 || pricePerGigabyte === 0n) return 0n;
  const product = BigInt(bytes) * pricePerGigabyte;
  return (product + 999_999_999n) / 1_000_000_000n;
}

function estimate(request: PathRequest, hops: readonly Hop[], relayPrice: bigint): PathEstimate {
  const hopsMs = hops.map((h) => transferMs(request.bytes, h.rttMs, h.bytesPerSecond));
  const predictedMs = hopsMs.reduce((a, b) => a + b, 0);
  const relayFee = bandwidthFee(request.bytes, relayPrice);
  const fee = hops.reduce((sum, h) => sum + bandwidthFee(request.bytes, h.pricePerGigabyte ?? 0n), relayFee);
  const score =
    request.valueOfTimePerSecond === undefined
      ? BigInt(predictedMs)
      : BigInt(timeValue(request.valueOfTimePerSecond, predictedMs)) + fee;
  return { kind: "direct", predictedMs, hopsMs, fee, relayFee, score };
}

function byRank(a: PathEstimate, b: PathEstimate): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1;
  if (a.fee !== b.fee) return a.fee < b.fee ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === "direct" ? -1 : 1;
  const ra = a.relay ?? "";
  const rb = b.relay ?? "";
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

function checkRequest(r: PathRequest): void {
  const bad = (what: string) => new SwitchyardError("MALFORMED", `path request: ${what}`);
  if (!Number.isSafeInteger(r.bytes) || r.bytes < 0 || r.bytes > Number.MAX_SAFE_INTEGER / 1000) {
    throw bad(`bytes must be a whole number from 0 to ${Math.floor(Number.MAX_SAFE_INTEGER / 1000)}`);
  }
  const checkHop = (h: Hop, where: string) => {
    if (!Number.isFinite(h.rttMs) || h.rttMs < 0) throw bad(`${where}: RTT must be finite and ≥ 0`);
    if (!Number.isFinite(h.bytesPerSecond) || h.bytesPerSecond < 1) {
      throw bad(`${where}: bandwidth must be at least 1 byte per second`);
    }
    if ((h.pricePerGigabyte ?? 0n) < 0n) throw bad(`${where}: price must be ≥ 0`);
  };
  if (r.direct !== undefined) checkHop(r.direct, "direct");
  const ids = new Set<string>();
  for (const relay of r.relays) {
    if (ids.has(relay.id)) throw bad(`relay ${relay.id} is listed twice`);
    ids.add(relay.id);
    checkHop(relay.fromSource, `relay ${relay.id} (from source)`);
    checkHop(relay.toDestination, `relay ${relay.id} (to destination)`);
    if (relay.pricePerGigabyte < 0n) throw bad(`relay ${relay.id}: price must be ≥ 0`);
  }
  const vot = r.valueOfTimePerSecond;
  if (vot !== undefined && (!Number.isSafeInteger(vot) || vot < 0)) {
    throw bad("value of time must be a whole number ≥ 0");
  }
}
