/**
 * An open-loop load generator for the coordinator benchmark, run as a separate process (forked by
 * bench/coordinator.ts, config and results over IPC).
 *
 * Open loop: message k of a step is *due* at t0 + k / rate whatever happened to the messages before
 * it, and its latency is counted from that intended time to its receipt — so a coordinator that
 * stalls is charged for every message that waited behind the stall, including time spent queued in
 * this process (no coordinated omission). Each of a few keep-alive connections sends, whenever it
 * is free, every message that has come due as one POST /v1/messages/batch (≤ 256 per request).
 *
 * Messages are signed before a step starts, never during it. Senders rotate round-robin over many
 * identities, so one sender's consecutive nonces are far apart in time and requests racing on
 * different connections cannot reorder them.
 */
import { Agent, request } from "node:http";
import { utf8 } from "../../src/protocol/bytes.ts";
import { nodeEd25519 } from "../../src/protocol/ed25519.node.ts";
import {
  encodeEnvelope,
  type Identity,
  identityFromSecret,
  signEnvelope,
} from "../../src/protocol/envelope.ts";
import { sha256 } from "../../src/protocol/hash.ts";

export interface GeneratorConfig {
  readonly url: string;
  readonly net: string;
  readonly senders: number;
  readonly steps: ReadonlyArray<{ readonly rate: number; readonly seconds: number }>;
  readonly connections: number;
  /** Stop stepping up once achieved throughput falls below this share of the offered rate. */
  readonly saturation: number;
}

export interface StepResult {
  readonly offered: number;
  readonly seconds: number;
  readonly sent: number;
  readonly ok: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly achieved: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Mean events per group commit during the step, from the coordinator's /metrics. */
  readonly appendBatchMean: number;
  readonly requests: number;
}

export type GeneratorMessage =
  | { readonly type: "stepStarted"; readonly offered: number }
  | { readonly type: "step"; readonly result: StepResult }
  | { readonly type: "done" }
  | { readonly type: "failed"; readonly message: string };

const maxBatch = 256;

function identities(n: number): Identity[] {
  return Array.from({ length: n }, (_, i) =>
    identityFromSecret(nodeEd25519, sha256(utf8(`bench-coordinator-sender:${i}`))),
  );
}

interface Reply {
  readonly status: number;
  readonly text: string;
}

function post(agent: Agent, base: URL, path: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        path,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function scrapeBatches(base: URL): Promise<{ sum: number; count: number }> {
  const res = await fetch(new URL("/metrics", base));
  const text = await res.text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return {
    sum: read("switchyard_append_batch_events_sum"),
    count: read("switchyard_append_batch_events_count"),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** Give every sender credits with one faucet each (nonce 1). Closed loop: this is setup. */
async function fund(
  agent: Agent,
  base: URL,
  config: GeneratorConfig,
  senders: readonly Identity[],
): Promise<void> {
  for (let at = 0; at < senders.length; at += maxBatch) {
    const messages = senders
      .slice(at, at + maxBatch)
      .map((s) =>
        encodeEnvelope(signEnvelope(nodeEd25519, s, config.net, 1n, "faucet", { amount: 1_000_000_000n })),
      );
    const reply = await post(agent, base, "/v1/messages/batch", JSON.stringify({ messages }));
    const results = (JSON.parse(reply.text) as { results: Array<{ code?: string }> }).results;
    const failed = results.find((r) => r.code !== undefined);
    if (reply.status !== 200 || failed !== undefined)
      throw new Error(`funding failed: ${reply.status} ${failed?.code}`);
  }
}

async function runStep(
  agent: Agent,
  base: URL,
  config: GeneratorConfig,
  rate: number,
  seconds: number,
  wires: readonly string[],
): Promise<StepResult> {
  const n = wires.length;
  const latencies = new Float64Array(n);
  let ok = 0;
  let answered = 0;
  let requests = 0;
  const errors: Record<string, number> = {};
  const countError = (code: string, k = 1) => {
    errors[code] = (errors[code] ?? 0) + k;
  };
  const before = await scrapeBatches(base);
  process.send?.({ type: "stepStarted", offered: rate } satisfies GeneratorMessage);
  const interval = 1000 / rate;
  const t0 = performance.now() + 20;
  let lastAnswer = t0;
  let cursor = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  let finished = false;
  const settle = (
    from: number,
    to: number,
    results: ReadonlyArray<{ seq?: number; code?: string }> | null,
    code?: string,
  ) => {
    if (finished) return;
    const now = performance.now();
    lastAnswer = now;
    for (let k = from; k < to; k++) {
      const r = results?.[k - from];
      if (r !== undefined && typeof r.seq === "number") latencies[ok++] = now - (t0 + k * interval);
      else countError(r?.code ?? code ?? "NO_ANSWER");
    }
    answered += to - from;
    if (answered === n) resolveDone();
  };
  const send = async (from: number, to: number): Promise<void> => {
    requests++;
    const body = `{"messages":[${wires.slice(from, to).join(",")}]}`;
    try {
      const reply = await post(agent, base, "/v1/messages/batch", body);
      if (reply.status !== 200) settle(from, to, null, `HTTP_${reply.status}`);
      else
        settle(
          from,
          to,
          (JSON.parse(reply.text) as { results: Array<{ seq?: number; code?: string }> }).results,
        );
    } catch (e) {
      settle(from, to, null, (e as Error).message);
    }
  };
  // One loop per connection: whenever it is free, it sends everything that has come due (up to a
  // full batch), so batches grow exactly as much as the coordinator is slow — and a message that
  // waits here for a free connection is charged that wait, from its intended time.
  const connection = async (): Promise<void> => {
    while (cursor < n && !finished) {
      const due = Math.min(n, Math.floor((performance.now() - t0) / interval) + 1);
      if (cursor >= due) {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, t0 + cursor * interval - performance.now())),
        );
        continue;
      }
      const from = cursor;
      cursor = Math.min(due, cursor + maxBatch);
      await send(from, cursor);
    }
  };
  const connections = Array.from({ length: config.connections }, connection);
  // Messages not answered within 30 s of the step's end count as lost.
  const giveUp = setTimeout(
    () => {
      countError("NO_ANSWER", n - answered);
      finished = true;
      resolveDone();
    },
    seconds * 1000 + 30_000,
  );
  await done;
  finished = true;
  await Promise.all(connections);
  clearTimeout(giveUp);
  const after = await scrapeBatches(base);
  const sorted = latencies.slice(0, ok).sort();
  return {
    offered: rate,
    seconds,
    sent: n,
    ok,
    errors,
    achieved: ok / ((lastAnswer - t0) / 1000),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: percentile(sorted, 1),
    appendBatchMean: (after.sum - before.sum) / Math.max(1, after.count - before.count),
    requests,
  };
}

async function main(config: GeneratorConfig): Promise<void> {
  const base = new URL(config.url);
  const agent = new Agent({ keepAlive: true, maxSockets: config.connections });
  const senders = identities(config.senders);
  await fund(agent, base, config, senders);
  let next = 0; // global message index: sender next % S, nonce 2 + ⌊next / S⌋
  for (const { rate, seconds } of config.steps) {
    const count = Math.round(rate * seconds);
    const wires: string[] = new Array(count);
    for (let k = 0; k < count; k++, next++) {
      const from = next % senders.length;
      const env = signEnvelope(
        nodeEd25519,
        senders[from]!,
        config.net,
        BigInt(2 + Math.floor(next / senders.length)),
        "transfer",
        {
          to: senders[(from + 1) % senders.length]!.publicKey,
          amount: 1n,
        },
      );
      wires[k] = JSON.stringify(encodeEnvelope(env));
    }
    const result = await runStep(agent, base, config, rate, seconds, wires);
    process.send?.({ type: "step", result } satisfies GeneratorMessage);
    if (result.achieved < config.saturation * rate) break;
  }
  agent.destroy();
}

process.once("message", (config: GeneratorConfig) => {
  main(config).then(
    () => process.send?.({ type: "done" } satisfies GeneratorMessage, () => process.exit(0)),
    (e: Error) =>
      process.send?.({ type: "failed", message: e.stack ?? e.message } satisfies GeneratorMessage, () =>
        process.exit(1),
      ),
  );
});
