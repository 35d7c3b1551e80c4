/**
 * `switchyard provider`: a provider agent in a city. It benchmarks itself, registers its node,
 * bonds stake, posts an offer, and then runs the work the market assigns it until stopped.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import WebSocket from "ws";
import { startProvider } from "../../agent/provider.ts";
import { nodeEd25519 } from "../../protocol/ed25519.node.ts";
import { identityFromSecret } from "../../protocol/envelope.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { findCity } from "../../protocol/geo.ts";
import { loadIdentity, saveIdentity } from "../../store/keystore.ts";
import { cityPoint, emulatedFetch, NodeLocations } from "../emulation.ts";
import type { Output } from "../output.ts";

export interface ProviderCommandOptions {
  readonly coordinator: string;
  readonly name: string;
  readonly city: string;
  readonly resourceClass: string;
  readonly capacity: number;
  /** Micro-credits per unit-second. */
  readonly price: bigint;
  /** Micro-credits per 10^9 bytes: egress price of its outputs, or a relay's forwarding price. */
  readonly pricePerGigabyte?: bigint;
  /** Measured uplink, registered so the market and the router can price moving data here. */
  readonly uplinkBytesPerSecond?: number;
  readonly stake: bigint;
  readonly dataDir: string;
  readonly key?: string;
  readonly devFaucet: boolean;
  /** Emulate the latency of this city to the coordinator's city and to other providers. */
  readonly emulate: boolean;
  readonly coordinatorCity: string;
  readonly readyJson: boolean;
  /** Adversarial agent for demos and tests: commits wrong results (agent/adversary.ts). */
  readonly cheat?: boolean;
}

export async function provider(options: ProviderCommandOptions, out: Output): Promise<number> {
  const city = findCity(options.city);
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const keyFile = options.key ?? join(dataDir, "identity.json");
  if (!existsSync(keyFile))
    await saveIdentity(keyFile, identityFromSecret(nodeEd25519, new Uint8Array(randomBytes(32))));
  const identity = await loadIdentity(keyFile, nodeEd25519);
  const locations = new NodeLocations();
  const here = cityPoint(city.name);
  const emit = (line: unknown) => {
    if (options.readyJson)
      process.stdout.write(`${JSON.stringify(line, (_, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
  };
  const running = await startProvider({
    coordinatorUrl: options.coordinator,
    identity,
    node: {
      name: options.name,
      city: city.name,
      country: city.country,
      jurisdictions: [...new Set([city.country, ...city.jurisdictions])],
      latE6: city.latE6,
      lonE6: city.lonE6,
      resourceClass: options.resourceClass,
      capacity: options.capacity,
      ...(options.uplinkBytesPerSecond === undefined ? {} : { bytesPerSecond: options.uplinkBytesPerSecond }),
    },
    pricePerUnitSecond: options.price,
    ...(options.pricePerGigabyte === undefined ? {} : { pricePerGigabyte: options.pricePerGigabyte }),
    stake: options.stake,
    dataDir,
    devFaucet: options.devFaucet,
    ...(options.cheat === true ? { cheat: { kind: "wrong-step" as const } } : {}),
    WebSocket,
    ...(options.emulate
      ? { fetch: emulatedFetch(here, options.coordinator, cityPoint(options.coordinatorCity), locations) }
      : {}),
    onEvent: (event) => {
      if (event.type === "error") {
        out.progress(`${options.name}: ${event.error.code}: ${event.error.message}`);
        emit({ event: { type: "error", code: event.error.code, message: event.error.message } });
      } else if (event.type !== "ready") {
        emit({ event });
      }
    },
  });
  if (options.emulate) locations.start(options.coordinator);
  const ready = {
    ready: true,
    name: options.name,
    key: running.publicKey,
    endpoint: running.endpoint,
    city: city.name,
    throughput: running.onboarding.throughput,
    ...(options.emulate ? { latency: "emulated" } : {}),
  };
  if (options.readyJson) emit(ready);
  else {
    out.result(ready, () =>
      [
        `provider ${options.name} (${running.publicKey}) in ${city.name}, serving outputs at ${running.endpoint}`,
        `offering ${options.capacity} × ${options.resourceClass} at ${options.price} µ per unit-second`,
        "stop with Ctrl-C",
      ].join("\n"),
    );
  }
  const stopped = new Promise<void>((done) => {
    const stop = () => {
      locations.stop();
      running.stop().then(done, done);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await stopped;
  emit({ stats: running.stats() });
  return 0;
}

export function parseMicro(text: string, flag: string): bigint {
  if (!/^(0|[1-9][0-9]{0,29})$/.test(text)) {
    throw new SwitchyardError(
      "MALFORMED",
      `${flag} is micro-credits as a whole number, e.g. 600; got ${text}`,
    );
  }
  return BigInt(text);
}

/** `--uplink-mbps`: whole megabits per second, 1 to 400,000, as bytes per second. */
export function parseUplinkMbps(text: string): number {
  const mbps = Number(text);
  if (!/^[1-9][0-9]{0,5}$/.test(text) || mbps > 400_000) {
    throw new SwitchyardError(
      "MALFORMED",
      `--uplink-mbps is whole megabits per second from 1 to 400000, e.g. 1000; got ${text}`,
    );
  }
  return mbps * 125_000;
}
