/**
 * apply_per_s: ledger transfers applied per second by the real state machine with its always-on
 * invariants, from pre-signed, pre-decoded events (signature checks belong to the sequencer and
 * are measured by verify_per_s). Baseline in the same run: the same transfers as bare Map updates,
 * the floor any ledger pays, so the ratio shows what the machine's checks and bookkeeping cost.
 */
import { apply, createState } from "../src/core/index.ts";
import { genesisPrev, type LogEvent } from "../src/protocol/log.ts";
import { defaultParams } from "../src/protocol/params.ts";
import { LocalNetwork, simIdentity } from "../src/sim/local-network.ts";
import type { BenchSuite } from "./lib.ts";

const accounts = 1_000;
const transfers = 100_000;

export const applySuite: BenchSuite = async (log) => {
  // Sign the workload once through a LocalNetwork (it assigns nonces), then replay it raw.
  const signer = new LocalNetwork({ net: "bench", verifySignatures: false });
  const people = Array.from({ length: accounts }, (_, i) => simIdentity(`bench-${i}`));
  const events: LogEvent[] = [];
  for (const p of people)
    events.push(eventOf(signer.sign(p, "faucet", { amount: 1_000_000_000n }), events.length));
  for (let i = 0; i < transfers; i++) {
    const from = people[i % accounts]!;
    const to = people[(i * 7 + 13) % accounts]!;
    if (from === to) continue;
    events.push(
      eventOf(
        signer.sign(from, "transfer", { to: to.publicKey, amount: BigInt(1 + (i % 1000)) }),
        events.length,
      ),
    );
  }
  const runs = 5;
  let best = 0;
  for (let r = 0; r < runs; r++) {
    const state = createState();
    apply(state, {
      seq: 0,
      time: 1,
      prev: genesisPrev,
      payload: {
        kind: "sys",
        sys: { type: "genesis", net: "bench", params: defaultParams, devFaucet: true },
      },
    });
    const t0 = process.hrtime.bigint();
    for (const e of events) {
      const result = apply(state, e);
      if (!result.ok) throw result.error;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, events.length / seconds);
  }
  log({
    bench: "core",
    metric: "apply_per_s",
    value: Math.round(best),
    unit: "events/s",
    invariants: "on",
    workload: "transfer",
    accounts,
  });

  // Baseline: the same postings as bare Map updates with no validation at all.
  let baseline = 0;
  for (let r = 0; r < runs; r++) {
    const balances = new Map<string, bigint>();
    const t0 = process.hrtime.bigint();
    for (const e of events) {
      if (e.payload.kind !== "msg") continue;
      const env = e.payload.env;
      if (env.type === "faucet") balances.set(env.signer, (balances.get(env.signer) ?? 0n) + env.body.amount);
      else if (env.type === "transfer") {
        balances.set(env.signer, (balances.get(env.signer) ?? 0n) - env.body.amount);
        balances.set(env.body.to, (balances.get(env.body.to) ?? 0n) + env.body.amount);
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    baseline = Math.max(baseline, events.length / seconds);
  }
  log({
    bench: "core",
    metric: "apply_per_s",
    value: Math.round(baseline),
    unit: "events/s",
    invariants: "none",
    workload: "bare-map-baseline",
    accounts,
  });
  log({
    bench: "core",
    metric: "apply_vs_bare_map",
    value: Number((best / baseline).toFixed(3)),
    unit: "ratio",
  });
};

function eventOf(env: ReturnType<LocalNetwork["sign"]>, index: number): LogEvent {
  return { seq: index + 1, time: 2 + index, prev: genesisPrev, payload: { kind: "msg", env } };
}
