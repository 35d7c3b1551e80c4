/**
 * The `switchyard` command. Each command parses its own flags; every command takes --json, prints
 * human tables otherwise, and exits 0 on success, 1 when it ran and failed, 2 on bad usage.
 */
import { parseArgs } from "node:util";
import { isSwitchyardError } from "../protocol/errors.ts";
import { defaultCoordinatorUrl, defaultKeyFile } from "./client.ts";
import { audit } from "./commands/audit.ts";
import { balance } from "./commands/balance.ts";
import { coordinator, parseParams } from "./commands/coordinator.ts";
import { faucet } from "./commands/faucet.ts";
import { jobs } from "./commands/jobs.ts";
import { keygen } from "./commands/keygen.ts";
import { market } from "./commands/market.ts";
import { nodes } from "./commands/nodes.ts";
import { parseMicro, parseUplinkMbps, provider } from "./commands/provider.ts";
import { submit } from "./commands/submit.ts";
import { up } from "./commands/up.ts";
import { runDemo } from "./demo.ts";
import { runNetworkDemo } from "./demo-network.ts";
import { createOutput } from "./output.ts";

const usage = `usage: switchyard <command> [options]      (every command takes --json)

run a network
  coordinator [--data-dir DIR] [--store URL|memory] [--port N] [--host H] [--net ID] [--dev-faucet]
              [--city CITY] [--params JSON]
                                     sequencer + API (default store: PGlite in DIR/log); --params
                                     sets a new log's genesis parameters, e.g. '{"runGraceMs":2000}'
  provider --name NAME --city CITY [--class gpu|cpu|qpu|relay] [--capacity N] [--price µ] [--stake µ]
           [--price-per-gb µ] [--uplink-mbps N] [--data-dir DIR] [--emulate]
                                     a provider agent: benchmark, register, bond, offer, work;
                                     --price-per-gb is its egress price (a relay's forwarding price)
  up [--providers N] [--cities A,B,C] [--coordinator-city CITY] [--port N] [--no-emulation]
                                     a coordinator and N providers as processes in real cities
  demo [--in-process] [--cheat | --kill-provider] [--data-dir DIR] [--timeout SECONDS]
                                     the seed pipeline end to end, with verification, settlement
                                     and audit; --cheat makes the Frankfurt gpu commit wrong
                                     results, to show it caught, slashed and the stage re-run;
                                     --kill-provider kill -9s the training provider mid-stage, to
                                     show the stage resumed elsewhere from its last checkpoint;
                                     --timeout (default 600) stops waiting and says what is open
use a network          (--coordinator URL, default ${defaultCoordinatorUrl}; --key FILE, default ${defaultKeyFile})
  keygen [--out FILE] [--force]      a new identity in a 0600 key file
  faucet [AMOUNT]                    dev networks: mint test credits (micro-credits, default 100000000)
  submit SPEC.yaml [--watch]         sign and submit a job (see docs/job-spec.md)
  jobs [ID] [--requester KEY]        one job with its stages and placement, or the newest jobs
  nodes                              registered providers
  market                             supply, prices and price index per class and region
  balance [KEY]                      available, staked and unbonding credits
  audit [--store URL|DIR] [--expect HASH [--at SEQ]]
                                     replay a stored log: chain, signatures, invariants, state hash
exit codes: 0 success, 1 the command ran and failed, 2 bad usage`;

type Flags = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

const common = { json: { type: "boolean", default: false } } as const;
const client = {
  coordinator: { type: "string", default: defaultCoordinatorUrl },
  key: { type: "string", default: defaultKeyFile },
} as const;

function parse<F extends Flags>(args: string[], options: F) {
  return parseArgs({ args, options: { ...common, ...options }, allowPositionals: true, strict: true });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "keygen": {
      const { values } = parse(rest, {
        out: { type: "string", default: defaultKeyFile },
        force: { type: "boolean", default: false },
      });
      return keygen(
        { out: values.out as string, force: values.force as boolean },
        createOutput(values.json as boolean),
      );
    }
    case "coordinator": {
      const { values } = parse(rest, {
        "data-dir": { type: "string", default: ".switchyard/coordinator" },
        store: { type: "string" },
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "7300" },
        net: { type: "string", default: "dev" },
        "dev-faucet": { type: "boolean", default: false },
        key: { type: "string" },
        city: { type: "string" },
        "verification-window-ms": { type: "string" },
        params: { type: "string" },
        "ready-json": { type: "boolean", default: false },
        "log-level": { type: "string", default: "info" },
      });
      const window = values["verification-window-ms"] as string | undefined;
      const params = values.params as string | undefined;
      return coordinator(
        {
          dataDir: values["data-dir"] as string,
          ...(values.store === undefined ? {} : { store: values.store as string }),
          host: values.host as string,
          port: portOf(values.port as string),
          net: values.net as string,
          devFaucet: values["dev-faucet"] as boolean,
          ...(values.key === undefined ? {} : { key: values.key as string }),
          ...(values.city === undefined ? {} : { city: values.city as string }),
          ...(window === undefined ? {} : { verificationWindowMs: Number(window) }),
          ...(params === undefined ? {} : { params: parseParams(params) }),
          readyJson: values["ready-json"] as boolean,
          logLevel: values["log-level"] as string,
        },
        createOutput(values.json as boolean),
      );
    }
    case "provider": {
      const { values } = parse(rest, {
        coordinator: { type: "string", default: defaultCoordinatorUrl },
        name: { type: "string" },
        city: { type: "string" },
        class: { type: "string", default: "cpu" },
        capacity: { type: "string", default: "4" },
        price: { type: "string", default: "50" },
        "price-per-gb": { type: "string" },
        "uplink-mbps": { type: "string" },
        stake: { type: "string", default: "50000000" },
        "data-dir": { type: "string" },
        key: { type: "string" },
        "no-faucet": { type: "boolean", default: false },
        emulate: { type: "boolean", default: false },
        "coordinator-city": { type: "string", default: "Frankfurt" },
        "ready-json": { type: "boolean", default: false },
        cheat: { type: "boolean", default: false },
      });
      if (values.name === undefined || values.city === undefined) {
        return usageError(
          "provider needs --name and --city, e.g. switchyard provider --name fra-gpu-1 --city Frankfurt --class gpu",
        );
      }
      const name = values.name as string;
      return provider(
        {
          coordinator: values.coordinator as string,
          name,
          city: values.city as string,
          resourceClass: values.class as string,
          capacity: Number(values.capacity),
          price: parseMicro(values.price as string, "--price"),
          ...(values["price-per-gb"] === undefined
            ? {}
            : { pricePerGigabyte: parseMicro(values["price-per-gb"] as string, "--price-per-gb") }),
          ...(values["uplink-mbps"] === undefined
            ? {}
            : { uplinkBytesPerSecond: parseUplinkMbps(values["uplink-mbps"] as string) }),
          stake: parseMicro(values.stake as string, "--stake"),
          dataDir: (values["data-dir"] as string | undefined) ?? `.switchyard/providers/${name}`,
          ...(values.key === undefined ? {} : { key: values.key as string }),
          devFaucet: !(values["no-faucet"] as boolean),
          emulate: values.emulate as boolean,
          coordinatorCity: values["coordinator-city"] as string,
          readyJson: values["ready-json"] as boolean,
          cheat: values.cheat as boolean,
        },
        createOutput(values.json as boolean),
      );
    }
    case "up": {
      const { values } = parse(rest, {
        "data-dir": { type: "string", default: ".switchyard/up" },
        "coordinator-city": { type: "string", default: "Frankfurt" },
        providers: { type: "string", default: "7" },
        cities: { type: "string" },
        port: { type: "string", default: "7300" },
        "no-emulation": { type: "boolean", default: false },
      });
      const count = Number(values.providers);
      if (!Number.isInteger(count) || count < 1 || count > 64) return usageError("--providers is 1..64");
      const cities = (values.cities as string | undefined)
        ?.split(",")
        .map((c) => c.trim())
        .filter(Boolean);
      return up(
        {
          dataDir: values["data-dir"] as string,
          coordinatorCity: values["coordinator-city"] as string,
          providers: count,
          ...(cities === undefined ? {} : { cities }),
          port: portOf(values.port as string),
          emulate: !(values["no-emulation"] as boolean),
        },
        createOutput(values.json as boolean),
      );
    }
    case "faucet": {
      const { values, positionals } = parse(rest, client);
      return faucet(
        {
          coordinator: values.coordinator as string,
          key: values.key as string,
          amount: positionals[0] ?? "100000000",
        },
        createOutput(values.json as boolean),
      );
    }
    case "submit": {
      const { values, positionals } = parse(rest, { ...client, watch: { type: "boolean", default: false } });
      const spec = positionals[0];
      if (spec === undefined)
        return usageError("submit needs a job spec file, e.g. switchyard submit examples/seed-pipeline.yaml");
      return submit(
        {
          spec,
          coordinator: values.coordinator as string,
          key: values.key as string,
          watch: values.watch as boolean,
        },
        createOutput(values.json as boolean),
      );
    }
    case "jobs": {
      const { values, positionals } = parse(rest, { ...client, requester: { type: "string" } });
      return jobs(
        {
          coordinator: values.coordinator as string,
          ...(positionals[0] === undefined ? {} : { id: positionals[0] }),
          ...(values.requester === undefined ? {} : { requester: values.requester as string }),
        },
        createOutput(values.json as boolean),
      );
    }
    case "nodes": {
      const { values } = parse(rest, client);
      return nodes({ coordinator: values.coordinator as string }, createOutput(values.json as boolean));
    }
    case "market": {
      const { values } = parse(rest, client);
      return market({ coordinator: values.coordinator as string }, createOutput(values.json as boolean));
    }
    case "balance": {
      const { values, positionals } = parse(rest, client);
      return balance(
        {
          coordinator: values.coordinator as string,
          key: values.key as string,
          ...(positionals[0] === undefined ? {} : { account: positionals[0] }),
        },
        createOutput(values.json as boolean),
      );
    }
    case "audit": {
      const { values } = parse(rest, {
        store: { type: "string", default: ".switchyard/coordinator/log" },
        expect: { type: "string" },
        at: { type: "string" },
      });
      if (values.at !== undefined && (values.expect === undefined || !/^[0-9]+$/.test(values.at as string))) {
        return usageError(
          "--at SEQ needs a whole number and --expect HASH (the hash acknowledged at that seq)",
        );
      }
      return audit(
        {
          store: values.store as string,
          ...(values.expect === undefined ? {} : { expect: values.expect as string }),
          ...(values.at === undefined ? {} : { at: Number(values.at) }),
        },
        createOutput(values.json as boolean),
      );
    }
    case "demo": {
      const { values } = parse(rest, {
        "data-dir": { type: "string", default: ".switchyard/demo" },
        "in-process": { type: "boolean", default: false },
        "coordinator-city": { type: "string", default: "Frankfurt" },
        cheat: { type: "boolean", default: false },
        "kill-provider": { type: "boolean", default: false },
        timeout: { type: "string", default: "600" },
      });
      const timeoutSeconds = Number(values.timeout);
      if (!Number.isSafeInteger(timeoutSeconds) || timeoutSeconds < 1)
        return usageError(`--timeout is whole seconds, at least 1 (got '${values.timeout}')`);
      const kill = values["kill-provider"] as boolean;
      if (kill && (values.cheat as boolean))
        return usageError("--cheat and --kill-provider are two demos; run them one at a time");
      if (values["in-process"] as boolean) {
        if ((values.cheat as boolean) || kill)
          return usageError(
            `${kill ? "--kill-provider" : "--cheat"} needs the networked demo (real processes); drop --in-process`,
          );
        const report = await runDemo({ json: values.json as boolean, dataDir: values["data-dir"] as string });
        return report.ok ? 0 : 1;
      }
      const report = await runNetworkDemo(
        {
          dataDir: values["data-dir"] as string,
          coordinatorCity: values["coordinator-city"] as string,
          cheat: values.cheat as boolean,
          killProvider: kill,
          timeoutSeconds,
        },
        createOutput(values.json as boolean),
      );
      return report.ok ? 0 : 1;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return command === undefined ? 2 : 0;
    default:
      return usageError(`unknown command '${command}'`);
  }
}

function usageError(message: string): number {
  console.error(`switchyard: ${message}\n\n${usage}`);
  return 2;
}

function portOf(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new TypeError(`--port must be 0..65535, got ${text}`);
  return port;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isSwitchyardError(error)) {
      console.error(`switchyard: ${error.code}: ${error.message}`);
      process.exitCode = 1;
    } else if (error instanceof TypeError) {
      process.exitCode = usageError(error.message);
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  },
);
