/**
 * A whole Switchyard network on one machine: a coordinator and providers as separate processes
 * talking over loopback, each placed in a real city. With `emulate`, every message and transfer
 * between two of them waits the modelled latency between their cities (labelled emulated).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { identityFromSecret } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Params } from "../protocol/params.ts";
import { worldProviders } from "../sim/fixtures.ts";
import { saveIdentity } from "../store/keystore.ts";
import { type Child, spawnCli, stopChild } from "./processes.ts";

export interface ProviderPlan {
  readonly name: string;
  readonly city: string;
  readonly resourceClass: string;
  readonly capacity: number;
  /** Micro-credits per unit-second. */
  readonly price: bigint;
  /** Micro-credits per 10^9 bytes: egress of the outputs it serves, or a relay's forwarding price. */
  readonly pricePerGigabyte?: bigint;
  /** Run this provider as the adversarial agent (agent/adversary.ts): `demo --cheat`. */
  readonly cheat?: boolean;
}

export interface LocalNetworkPlan {
  readonly dataDir: string;
  readonly coordinatorCity: string;
  readonly providers: readonly ProviderPlan[];
  readonly emulate: boolean;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly verificationWindowMs?: number;
  /** Genesis parameters over the defaults (shorter deadlines for `demo --kill-provider`, say). */
  readonly params?: Partial<Params>;
}

export interface RunningNetwork {
  readonly url: string;
  readonly coordinator: Child;
  readonly providers: readonly Child[];
  readonly logDir: string;
  readonly storeDir: string;
  /** Stop only the coordinator process (SIGKILL when `hard`), e.g. to show crash recovery. */
  killCoordinator(hard: boolean): Promise<void>;
  /** Start the coordinator again on the same store and port. */
  restartCoordinator(): Promise<Child>;
  /** kill -9 one provider process by name, as a machine that vanishes mid-stage; resolves once it is gone. */
  killProvider(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The default local network: the simulation's six providers (src/sim/fixtures.ts), so the
 * networked and in-process demos place the same market, plus a second EU gpu in Paris so the EU
 * training stage has a runner-up to explain against, and a relay in Zurich.
 */
/** Egress of the demo's providers: 5,000 µ per 10^9 bytes, US$0.005/GB at 1 credit = US$1. */
const demoEgressPerGigabyte = 5_000n;

export const defaultProviders: readonly ProviderPlan[] = [
  ...worldProviders.map((p) => ({
    name: p.node.name,
    city: p.node.city,
    resourceClass: p.node.resourceClass,
    capacity: p.node.capacity,
    price: p.pricePerUnitSecond,
    pricePerGigabyte: demoEgressPerGigabyte,
  })),
  {
    name: "par-gpu-1",
    city: "Paris",
    resourceClass: "gpu",
    capacity: 4,
    price: 650n,
    pricePerGigabyte: demoEgressPerGigabyte,
  },
  // A relay: sealed stage outputs may travel through it when the direct path is predicted slower
  // or fails; it forwards ciphertext only and is never given a key (docs/routing.md).
  {
    name: "zrh-relay-1",
    city: "Zurich",
    resourceClass: "relay",
    capacity: 4,
    price: 10n,
    pricePerGigabyte: 20_000n,
  },
];

async function ensureKey(file: string): Promise<void> {
  if (!existsSync(file))
    await saveIdentity(file, identityFromSecret(nodeEd25519, new Uint8Array(randomBytes(32))));
}

export async function startLocalNetwork(
  plan: LocalNetworkPlan,
  progress: (line: string) => void = () => {},
): Promise<RunningNetwork> {
  const dataDir = resolve(plan.dataDir);
  const logDir = join(dataDir, "logs");
  const coordinatorDir = join(dataDir, "coordinator");
  const coordinatorArgs = (port: number) => [
    "coordinator",
    "--data-dir",
    coordinatorDir,
    "--port",
    String(port),
    "--dev-faucet",
    "--net",
    "local",
    "--log-level",
    "warn",
    ...(plan.verificationWindowMs === undefined
      ? []
      : ["--verification-window-ms", String(plan.verificationWindowMs)]),
    ...(plan.params === undefined
      ? []
      : ["--params", JSON.stringify(plan.params, (_k, v) => (typeof v === "bigint" ? v.toString() : v))]),
    ...(plan.emulate ? ["--city", plan.coordinatorCity] : []),
  ];
  progress(`starting coordinator (${plan.coordinatorCity})…`);
  let coordinator = await spawnCli("coordinator", coordinatorArgs(plan.port ?? 0), logDir);
  const url = String(coordinator.ready["url"]);
  const port = Number(new URL(url).port);
  progress(`coordinator ready at ${url}; starting ${plan.providers.length} providers…`);
  const providers = await Promise.all(
    plan.providers.map(async (p) => {
      const dir = join(dataDir, "providers", p.name);
      const key = join(dir, "identity.json");
      await ensureKey(key);
      const child = await spawnCli(
        p.name,
        [
          "provider",
          "--coordinator",
          url,
          "--name",
          p.name,
          "--city",
          p.city,
          "--class",
          p.resourceClass,
          "--capacity",
          String(p.capacity),
          "--price",
          p.price.toString(),
          ...(p.pricePerGigabyte === undefined ? [] : ["--price-per-gb", p.pricePerGigabyte.toString()]),
          "--data-dir",
          dir,
          "--key",
          key,
          ...(plan.emulate ? ["--emulate", "--coordinator-city", plan.coordinatorCity] : []),
          ...(p.cheat === true ? ["--cheat"] : []),
        ],
        logDir,
        120_000,
      );
      progress(`  ${p.name} ready in ${p.city}`);
      return child;
    }),
  );
  const network: RunningNetwork = {
    url,
    get coordinator() {
      return coordinator;
    },
    providers,
    logDir,
    storeDir: join(coordinatorDir, "log"),
    async killCoordinator(hard) {
      if (hard) {
        const exited = new Promise<void>((done) => coordinator.process.once("exit", () => done()));
        coordinator.process.kill("SIGKILL");
        await exited;
      } else await stopChild(coordinator);
    },
    async restartCoordinator() {
      coordinator = await spawnCli("coordinator-restarted", coordinatorArgs(port), logDir);
      return coordinator;
    },
    async killProvider(name) {
      const child = providers.find((p) => p.name === name);
      if (child === undefined) throw new SwitchyardError("UNKNOWN_NODE", `no provider process named ${name}`);
      const p = child.process;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((done) => p.once("exit", () => done()));
      p.kill("SIGKILL");
      await exited;
    },
    async stop() {
      await Promise.all(providers.map((p) => stopChild(p)));
      await stopChild(coordinator);
    },
  };
  return network;
}
