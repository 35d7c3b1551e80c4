/**
 * What tests that run real agents in one process share: agent options tuned for speed (a short
 * benchmark, quick reconnects and task polls, no RTT probing) and a node description. Used by the
 * canary, sealing and dispute tests; the coordinator side is src/coordinator/test-kit.ts.
 */
import type { Identity } from "../protocol/envelope.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import type { ProviderNode, StartProviderOptions } from "./provider.ts";

/**
 * Options for a test agent on `coordinatorUrl`: staked 5 credits from the dev faucet, its data in
 * `dataDir`, sharing `pool`; `extra` overrides any of them.
 *
 * @example
 * await startProvider(testAgentOptions(url, identity, node, 100n, join(dir, node.name), pool));
 */
export function testAgentOptions(
  coordinatorUrl: string,
  identity: Identity,
  node: ProviderNode,
  pricePerUnitSecond: bigint,
  dataDir: string,
  pool: WorkerPool,
  extra: Partial<StartProviderOptions> = {},
): StartProviderOptions {
  return {
    coordinatorUrl,
    identity,
    node,
    pricePerUnitSecond,
    stake: 5_000_000n,
    dataDir,
    pool,
    devFaucet: true,
    benchmark: { minDurationMs: 30, warmupUnits: 2 },
    backoff: { initialDelayMs: 20, maxDelayMs: 200 },
    stopGraceMs: 2_000,
    taskPollMs: 50,
    rttProbe: false,
    ...extra,
  };
}

/** A two-unit node at degrees (lat, lon); `city` defaults to its name. */
export function testNode(
  name: string,
  resourceClass: string,
  place: { country: string; jurisdictions: string[]; lat: number; lon: number; city?: string },
): ProviderNode {
  return {
    name,
    city: place.city ?? name,
    country: place.country,
    jurisdictions: place.jurisdictions,
    latE6: Math.round(place.lat * 1e6),
    lonE6: Math.round(place.lon * 1e6),
    resourceClass,
    capacity: 2,
  };
}
