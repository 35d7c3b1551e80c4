/**
 * `switchyard coordinator`: the sequencer and API, on the embedded store by default. Runs until
 * SIGINT/SIGTERM (graceful stop) or a halt (exit 1: restart replays the log).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import pino from "pino";
import { startCoordinator } from "../../coordinator/coordinator.ts";
import { nodeEd25519 } from "../../protocol/ed25519.node.ts";
import { identityFromSecret } from "../../protocol/envelope.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { defaultParams, type Params, paramsSchema } from "../../protocol/params.ts";
import { loadIdentity, saveIdentity } from "../../store/keystore.ts";
import { cityPoint, coordinatorEmulation, NodeLocations } from "../emulation.ts";
import type { Output } from "../output.ts";
import { describeStoreSpec } from "../store-spec.ts";

export interface CoordinatorCommandOptions {
  readonly dataDir: string;
  /** A postgres:// URL or `memory`; default the PGlite database in dataDir. */
  readonly store?: string;
  readonly host: string;
  readonly port: number;
  readonly net: string;
  readonly devFaucet: boolean;
  readonly key?: string;
  /** Emulate latency to providers from this city (local networks only). */
  readonly city?: string;
  readonly verificationWindowMs?: number;
  /** Genesis parameters of a new log over the defaults (`--params '{"runGraceMs":2000}'`). */
  readonly params?: Partial<Params>;
  readonly readyJson: boolean;
  readonly logLevel: string;
}

export async function coordinator(options: CoordinatorCommandOptions, out: Output): Promise<number> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const keyFile = options.key ?? join(dataDir, "coordinator-key.json");
  if (!existsSync(keyFile)) {
    await saveIdentity(keyFile, identityFromSecret(nodeEd25519, new Uint8Array(randomBytes(32))));
  }
  const identity = await loadIdentity(keyFile, nodeEd25519);
  const store = options.store ?? join(dataDir, "log");
  const locations = options.city === undefined ? undefined : new NodeLocations();
  const logger = pino({ level: options.logLevel }, pino.destination(2));
  const running = await startCoordinator({
    store,
    identity,
    net: options.net,
    devFaucet: options.devFaucet,
    host: options.host,
    port: options.port,
    logger,
    params: {
      ...options.params,
      ...(options.verificationWindowMs === undefined
        ? {}
        : { verificationWindowMs: options.verificationWindowMs }),
    },
    ...(options.city === undefined || locations === undefined
      ? {}
      : { emulation: coordinatorEmulation(cityPoint(options.city), locations) }),
  });
  locations?.start(running.url);
  const ready = {
    ready: true,
    url: running.url,
    net: running.net,
    coordinator: running.publicKey,
    store: describeStoreSpec(store),
    head: running.head(),
    ...(options.city === undefined ? {} : { city: options.city, latency: "emulated" }),
  };
  if (options.readyJson) process.stdout.write(`${JSON.stringify(ready)}\n`);
  else {
    out.result(ready, () =>
      [
        `coordinator ${running.publicKey} serving network '${running.net}' at ${running.url}`,
        `log: ${describeStoreSpec(store)} (head seq ${running.head().seq})`,
        options.city === undefined
          ? ""
          : `emulating latency from ${options.city} to each provider (emulated, not measured)`,
        "stop with Ctrl-C",
      ]
        .filter(Boolean)
        .join("\n"),
    );
  }
  const stop = () => {
    void running.stop();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const cause = await running.stopped;
  locations?.stop();
  if (cause !== null) {
    out.progress(`coordinator halted: ${cause.code}: ${cause.message}`);
    return 1;
  }
  return 0;
}

/**
 * `--params` JSON: parameter names to values (amounts in micro-credits, as numbers or strings).
 * Names and bounds are checked when the genesis is written; an unknown name is MALFORMED here.
 *
 * @example
 * parseParams('{"runDeadlinePercent":100,"runGraceMs":2000}');
 */
export function parseParams(text: string): Partial<Params> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new SwitchyardError("MALFORMED", `--params is not JSON: ${text.slice(0, 80)}`, { cause });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new SwitchyardError("MALFORMED", '--params is a JSON object, e.g. {"runGraceMs":2000}');
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    // Every parameter the schema knows, optional ones (no default) included.
    if (!Object.hasOwn(paramsSchema.shape, name)) {
      throw new SwitchyardError("MALFORMED", `--params: no parameter ${name}; see src/protocol/params.ts`);
    }
    const money = typeof defaultParams[name as keyof Params] === "bigint";
    if (money && (typeof value === "number" || typeof value === "string") && /^\d+$/.test(String(value)))
      out[name] = BigInt(value);
    else if (!money && typeof value === "number") out[name] = value;
    else
      throw new SwitchyardError(
        "MALFORMED",
        `--params: ${name} must be ${money ? "micro-credits" : "a number"}`,
      );
  }
  return out as Partial<Params>;
}
