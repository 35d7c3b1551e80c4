/**
 * Ready-made participants for simulations, tests and the local scenario: providers in real cities
 * (coordinates in micro-degrees) with the resource classes the seed pipeline needs.
 */
import type { Identity } from "../protocol/envelope.ts";
import type { JobId } from "../protocol/ids.ts";
import type { MessageBody, StageSpec } from "../protocol/messages.ts";
import { type LocalNetwork, simIdentity } from "./local-network.ts";

export interface SimProvider {
  readonly who: Identity;
  readonly node: MessageBody<"registerNode">;
  readonly pricePerUnitSecond: bigint;
}

export const city = (
  name: string,
  cityName: string,
  country: string,
  blocs: string[],
  lat: number,
  lon: number,
  resourceClass: string,
  capacity: number,
  throughput: number,
  price: bigint,
): SimProvider => ({
  who: simIdentity(name),
  node: {
    name,
    city: cityName,
    country,
    jurisdictions: [country, ...blocs],
    latE6: Math.round(lat * 1e6),
    lonE6: Math.round(lon * 1e6),
    resourceClass,
    capacity,
    throughput,
  },
  pricePerUnitSecond: price,
});

/**
 * Six providers on three continents, offering gpu, cpu and qpu. Prices are micro-credits per
 * unit-second; at 1 credit ≈ 1 USD, 600 µ/s is about 2.16 USD per GPU-hour, in the range of the
 * marketplace prices in ../shared/data/prices.
 */
export const worldProviders: readonly SimProvider[] = [
  city("fra-gpu-1", "Frankfurt", "DE", ["EU"], 50.1109, 8.6821, "gpu", 8, 40_000, 600n),
  city("ams-qpu-1", "Amsterdam", "NL", ["EU"], 52.3676, 4.9041, "qpu", 2, 5_000, 1_500n),
  city("ams-cpu-1", "Amsterdam", "NL", ["EU"], 52.3676, 4.9041, "cpu", 16, 8_000, 40n),
  city("sin-gpu-1", "Singapore", "SG", [], 1.3521, 103.8198, "gpu", 8, 35_000, 520n),
  city("nyc-cpu-1", "New York", "US", [], 40.7128, -74.006, "cpu", 32, 9_000, 30n),
  city("sao-gpu-1", "São Paulo", "BR", [], -23.5505, -46.6333, "gpu", 4, 30_000, 450n),
];

/** Fund, register, bond and post an offer for each provider. Throws on any rejection. */
export function onboardProviders(
  net: LocalNetwork,
  providers: readonly SimProvider[],
  stake = 50_000_000n,
): void {
  for (const p of providers) {
    must(net.send(p.who, "faucet", { amount: stake * 2n }));
    must(net.send(p.who, "registerNode", p.node));
    must(net.send(p.who, "bond", { amount: stake }));
    must(
      net.send(p.who, "postOffer", {
        resourceClass: p.node.resourceClass,
        capacity: p.node.capacity,
        pricePerUnitSecond: p.pricePerUnitSecond,
      }),
    );
  }
}

export function must<T extends { ok: boolean }>(outcome: T): T & { ok: true } {
  if (!outcome.ok) {
    const error = (outcome as unknown as { error: Error }).error;
    throw error;
  }
  return outcome as T & { ok: true };
}

/** A one-unit, 60-second `mlp-train` stage named "train" at up to 1,000 µ/s; override any field. */
export function trainStage(overrides: Partial<StageSpec> = {}): StageSpec {
  return {
    name: "train",
    program: "mlp-train",
    params: {},
    resourceClass: "gpu",
    units: 1,
    seconds: 60,
    maxPricePerUnitSecond: 1_000n,
    after: [],
    inputs: [],
    verification: "none",
    ...overrides,
  };
}

/** Submits a job as `requester` (must be accepted) and returns the id of the job it created. */
export function submitJobOf(
  net: LocalNetwork,
  requester: Identity,
  stages: readonly StageSpec[],
  budget = 10_000_000n,
): JobId {
  const before = new Set(net.state.jobs.keys());
  must(net.send(requester, "submitJob", { budget, stages: [...stages] }));
  return [...net.state.jobs.keys()].find((k) => !before.has(k))!;
}
