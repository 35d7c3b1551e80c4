/**
 * msgs_per_s: signed transfers sustained through the whole coordinator path on loopback — HTTP →
 * verify (worker thread) → sequence → apply → durable append → receipt — under an open-loop load
 * generator in a separate process (bench/loadgen/generator.ts) that offers a fixed rate, steps it
 * up, and counts latency from each message's intended send time.
 *
 * Lines, per store (`pglite` always; `postgres` when SWITCHYARD_TEST_PG is set or `--pg <url>`):
 *
 *   {metric: "msgs_per_s", value: achieved, offered_per_s, store, …}   one per offered rate
 *   {metric: "p50_ms" | "p99_ms", value, offered_per_s, store, …}      latency at that rate
 *   {metric: "msgs_per_s", step: "best", …}  the highest achieved rate whose p99 < 50 ms, with
 *                                              no refusals and ≥ 95 % of the offered rate
 *   {metric: "verify_per_s", value, impl: "node"}  raw Ed25519 verifications/s on one core, in
 *                                                  the same run: the ceiling of one verifier thread
 *
 * Every line carries `cores` and `generator: "separate process, same host"`: the generator, the
 * coordinator (main thread + verifier thread) and PostgreSQL share this machine's cores, so these
 * are figures for one box, not for a coordinator with the machine to itself.
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { pino } from "pino";
import { type Coordinator, startCoordinator } from "../src/coordinator/coordinator.ts";
import { defaultVerifierThreads } from "../src/coordinator/options.ts";
import { utf8 } from "../src/protocol/bytes.ts";
import { nodeEd25519 } from "../src/protocol/ed25519.node.ts";
import { identityFromSecret } from "../src/protocol/envelope.ts";
import { sha256 } from "../src/protocol/hash.ts";
import type { EventStore } from "../src/store/event-store.ts";
import { pgliteEventStore } from "../src/store/pglite-event-store.ts";
import { postgresEventStore } from "../src/store/postgres-event-store.ts";
import { type BenchLine, type BenchSuite, opsPerSecond } from "./lib.ts";
import type { GeneratorConfig, GeneratorMessage, StepResult } from "./loadgen/generator.ts";

/** Offered rates, msgs/s; stepping stops once the coordinator no longer keeps up. */
const rates = [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 10_000];
const secondsPerStep = 5;
/** 2,048 senders: one sender's consecutive nonces are ~0.4 s apart at 5,000/s, and every key stays in the verifier's key cache. */
const senders = 2_048;
const p99TargetMs = 50;

function postgresUrl(): string | undefined {
  const at = process.argv.findIndex((a) => a === "--pg" || a.startsWith("--pg="));
  const arg = at < 0 ? undefined : (process.argv[at]!.split("=", 2)[1] ?? process.argv[at + 1]);
  return arg ?? process.env["SWITCHYARD_TEST_PG"];
}

/** Raw node:crypto Ed25519 verifications per second on this thread. */
function verifyPerSecond(): number {
  const keys = Array.from({ length: 16 }, (_, i) =>
    identityFromSecret(nodeEd25519, sha256(utf8(`verify-${i}`))),
  );
  const message = new Uint8Array(220).fill(7);
  const pubs = keys.map((k) => nodeEd25519.publicKey(k.secret));
  const sigs = keys.map((k) => nodeEd25519.sign(k.secret, message));
  const runs = Array.from({ length: 5 }, () =>
    opsPerSecond(20_000, (i) => nodeEd25519.verify(pubs[i % 16]!, message, sigs[i % 16]!)),
  );
  return runs.sort((a, b) => a - b)[2]!;
}

/** A step's result with the coordinator process's CPU time per acknowledged message during it. */
interface MeasuredStep extends StepResult {
  /** User + system CPU of the coordinator process (all threads), µs per message. */
  readonly cpuUsPerMsg: number;
  /** Busy time of the coordinator's main thread (event-loop utilization), µs per message. */
  readonly mainUsPerMsg: number;
}

/** Run the generator process and collect its step results, measuring this process's CPU per step. */
function generate(config: GeneratorConfig): Promise<MeasuredStep[]> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL("./loadgen/generator.ts", import.meta.url), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const results: MeasuredStep[] = [];
    let cpu = process.cpuUsage();
    let elu = performance.eventLoopUtilization();
    child.on("message", (m: GeneratorMessage) => {
      if (m.type === "stepStarted") {
        cpu = process.cpuUsage();
        elu = performance.eventLoopUtilization();
      } else if (m.type === "step") {
        const used = process.cpuUsage(cpu);
        const busy = performance.eventLoopUtilization(elu);
        const n = Math.max(1, m.result.ok);
        results.push({
          ...m.result,
          cpuUsPerMsg: (used.user + used.system) / n,
          mainUsPerMsg: (busy.active * 1000) / n,
        });
      } else if (m.type === "done") resolve(results);
      else if (m.type === "failed") reject(new Error(`load generator failed: ${m.message}`));
    });
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
    });
    child.send(config);
  });
}

async function measureStore(
  store: string,
  open: () => EventStore,
  log: (line: BenchLine) => void,
  labels: Record<string, string | number>,
): Promise<void> {
  const coordinator: Coordinator = await startCoordinator({
    store: open(),
    identity: identityFromSecret(nodeEd25519, sha256(utf8("bench-coordinator"))),
    net: "bench",
    devFaucet: true,
    port: 0,
    logger: pino({ level: "silent" }),
  });
  let results: MeasuredStep[];
  try {
    results = await generate({
      url: coordinator.url,
      net: coordinator.net,
      senders,
      steps: rates.map((rate) => ({ rate, seconds: secondsPerStep })),
      connections: 8,
      saturation: 0.9,
    });
  } finally {
    await coordinator.stop();
  }
  let best: MeasuredStep | undefined;
  for (const r of results) {
    const common = { bench: "coordinator", store, offered_per_s: r.offered, ...labels };
    const refused = r.sent - r.ok;
    log({
      ...common,
      metric: "msgs_per_s",
      value: Math.round(r.achieved),
      unit: "msgs/s",
      refused,
      append_batch_mean: Number(r.appendBatchMean.toFixed(1)),
      coordinator_cpu_us_per_msg: Math.round(r.cpuUsPerMsg),
      main_thread_us_per_msg: Math.round(r.mainUsPerMsg),
    });
    log({ ...common, metric: "p50_ms", value: Number(r.p50Ms.toFixed(2)), unit: "ms" });
    log({
      ...common,
      metric: "p99_ms",
      value: Number(r.p99Ms.toFixed(2)),
      unit: "ms",
      max_ms: Number(r.maxMs.toFixed(1)),
    });
    if (
      refused === 0 &&
      r.p99Ms < p99TargetMs &&
      r.achieved >= 0.95 * r.offered &&
      r.achieved > (best?.achieved ?? 0)
    )
      best = r;
  }
  if (best !== undefined) {
    const common = { bench: "coordinator", store, step: "best", offered_per_s: best.offered, ...labels };
    log({
      ...common,
      metric: "msgs_per_s",
      value: Math.round(best.achieved),
      unit: "msgs/s",
      p99_target_ms: p99TargetMs,
    });
    log({ ...common, metric: "p50_ms", value: Number(best.p50Ms.toFixed(2)), unit: "ms" });
    log({ ...common, metric: "p99_ms", value: Number(best.p99Ms.toFixed(2)), unit: "ms" });
  }
}

export const coordinatorSuite: BenchSuite = async (log) => {
  const labels = {
    cores: availableParallelism(),
    verifier_threads: defaultVerifierThreads(),
    generator: "separate process, same host",
    transport: "http batch, 8 keep-alive connections",
  };
  log({
    bench: "coordinator",
    metric: "verify_per_s",
    value: Math.round(verifyPerSecond()),
    unit: "ops/s",
    impl: "node",
    threads: 1,
    cores: labels.cores,
  });
  const dataDir = await mkdtemp(join(tmpdir(), "switchyard-bench-coordinator-"));
  try {
    await measureStore("pglite", () => pgliteEventStore({ dataDir }), log, labels);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const url = postgresUrl();
  if (url === undefined) return;
  const schema = `bench_coordinator_${randomBytes(4).toString("hex")}`;
  try {
    await measureStore("postgres", () => postgresEventStore({ url, schema }), log, labels);
  } finally {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
};
