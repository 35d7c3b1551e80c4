/**
 * `switchyard up`: a coordinator and providers as separate processes on this machine, each in a
 * real city, with emulated latency between cities. Runs until Ctrl-C, then stops them all.
 */
import { findCity } from "../../protocol/geo.ts";
import { defaultProviders, type ProviderPlan, startLocalNetwork } from "../local-network.ts";
import type { Output } from "../output.ts";
import { table } from "../table.ts";

export interface UpOptions {
  readonly dataDir: string;
  readonly coordinatorCity: string;
  /** Provider count; with `cities`, providers cycle through them and the default classes. */
  readonly providers: number;
  readonly cities?: readonly string[];
  readonly port: number;
  readonly emulate: boolean;
}

/** The plan: the default six, or N providers spread over the chosen cities. */
export function planProviders(count: number, cities: readonly string[] | undefined): ProviderPlan[] {
  if (cities === undefined || cities.length === 0) {
    return Array.from({ length: count }, (_, i) => {
      const base = defaultProviders[i % defaultProviders.length]!;
      return i < defaultProviders.length
        ? base
        : {
            ...base,
            name: `${base.name.replace(/-\d+$/, "")}-${Math.floor(i / defaultProviders.length) + 1}`,
          };
    });
  }
  const classes = ["gpu", "cpu", "qpu"] as const;
  return Array.from({ length: count }, (_, i) => {
    const city = findCity(cities[i % cities.length]!);
    const resourceClass = classes[i % classes.length]!;
    const prefix = city.name
      .toLowerCase()
      .replace(/[^a-z]/g, "")
      .slice(0, 3);
    const price = resourceClass === "gpu" ? 550n : resourceClass === "qpu" ? 1_500n : 35n;
    return {
      name: `${prefix}-${resourceClass}-${i + 1}`,
      city: city.name,
      resourceClass,
      capacity: resourceClass === "cpu" ? 16 : 4,
      price,
    };
  });
}

export async function up(options: UpOptions, out: Output): Promise<number> {
  const providers = planProviders(options.providers, options.cities);
  const network = await startLocalNetwork(
    {
      dataDir: options.dataDir,
      coordinatorCity: options.coordinatorCity,
      providers,
      emulate: options.emulate,
      port: options.port,
    },
    out.progress,
  );
  const summary = {
    coordinator: network.url,
    latency: options.emulate ? "emulated" : "none",
    providers: network.providers.map((p) => p.ready),
    logs: network.logDir,
  };
  out.result(summary, () =>
    [
      `coordinator ${network.url} (${options.coordinatorCity}); logs in ${network.logDir}`,
      table(
        ["provider", "city", "class", "endpoint"],
        providers.map((p, i) => [
          p.name,
          p.city,
          p.resourceClass,
          String(network.providers[i]?.ready["endpoint"] ?? ""),
        ]),
      ),
      options.emulate ? "latency between cities is emulated from the built-in model" : "no latency emulation",
      `try: SWITCHYARD_COORDINATOR=${network.url} switchyard submit examples/seed-pipeline.yaml --watch`,
      "stop with Ctrl-C",
    ].join("\n"),
  );
  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  out.progress("stopping…");
  await network.stop();
  return 0;
}
