/**
 * `switchyard demo` (issue 2 edition): the seed pipeline on an in-process network. Providers in
 * five cities register, bond and post offers; a requester submits examples/seed-pipeline.yaml; each
 * stage's real program runs in the worker pool; results are committed and settled; the log is
 * written to the embedded store (PGlite) and audited from disk: chain, every signature, every
 * invariant, the snapshot and the state hash.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { accounts, balanceOf, encodeState, stageCost, stateHash } from "../core/index.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { parseJobSpec } from "../protocol/job-spec.ts";
import { formatCredits } from "../protocol/money.ts";
import { createWorkerPool } from "../runtime/pool.ts";
import { must, onboardProviders, worldProviders } from "../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../sim/local-network.ts";
import { runPipeline } from "../sim/seed-pipeline.ts";
import { auditStore } from "../store/audit.ts";
import { memoryBlobStore } from "../store/memory-blob-store.ts";
import { pgliteEventStore } from "../store/pglite-event-store.ts";
import { table } from "./table.ts";

export interface DemoOptions {
  readonly json: boolean;
  readonly dataDir: string;
}

/** What both demos report of each stage: where it ran, what it cost, what it committed. */
export interface DemoStageCore {
  readonly name: string;
  readonly program: string;
  readonly provider: string;
  readonly city: string;
  readonly jurisdiction: string;
  readonly status: string;
  readonly pricePerUnitSecond: string;
  readonly costMicro: string;
  readonly feeMicro: string;
  readonly root: string;
  readonly output: string;
}

export interface DemoStage extends DemoStageCore {
  readonly steps: number;
  readonly wallMs: number;
  readonly summary: string;
}

export interface DemoReport {
  readonly ok: boolean;
  readonly network: { readonly providers: number; readonly cities: number; readonly emulated: false };
  readonly jobId: string;
  readonly stages: readonly DemoStage[];
  readonly loopRoundTrips: number;
  readonly settlement: {
    readonly payouts: ReadonlyArray<{ readonly provider: string; readonly paidMicro: string }>;
    readonly feesMicro: string;
    readonly refundMicro: string;
    readonly budgetMicro: string;
  };
  readonly log: { readonly events: number; readonly store: string; readonly dataDir: string };
  readonly audit: {
    readonly ok: boolean;
    readonly stateHash: string | null;
    readonly events: number;
    readonly signatures: number;
    readonly error?: unknown;
  };
  readonly wallMs: number;
}

const examplesDir = resolve(import.meta.dirname, "../../examples");

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const t0 = performance.now();
  const say = (line: string) => {
    if (!options.json) console.log(line);
  };
  const net = new LocalNetwork({
    net: "demo",
    startTime: Date.now(),
    params: { verificationWindowMs: 10_000 },
  });
  const requester = simIdentity("demo-requester");
  onboardProviders(net, worldProviders);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  const cities = new Set(worldProviders.map((p) => p.node.city));
  say(
    `Switchyard demo — in-process network '${net.net}': ${worldProviders.length} providers in ${cities.size} cities (no emulated latency in this edition)`,
  );
  say(
    table(
      ["provider", "city", "jurisdictions", "class", "capacity", "price/unit·s"],
      worldProviders.map((p) => [
        p.node.name,
        p.node.city,
        p.node.jurisdictions.join(","),
        p.node.resourceClass,
        String(p.node.capacity),
        `${p.pricePerUnitSecond} µ`,
      ]),
    ),
  );

  const specPath = join(examplesDir, "seed-pipeline.yaml");
  // The in-process driver plays providers only; verification needs verifier agents, which the
  // networked demo runs. So here every stage is submitted with verification "none".
  const parsed = parseJobSpec(readFileSync(specPath, "utf8"), specPath);
  const spec = { ...parsed, stages: parsed.stages.map((s) => ({ ...s, verification: "none" as const })) };
  say(
    `\nSubmitting ${specPath} (${spec.stages.length} stages, budget ${formatCredits(spec.budget)} credits)…`,
  );
  const outputs = memoryBlobStore();
  const pool = createWorkerPool({ timeLimitMs: 120_000 });
  let run: Awaited<ReturnType<typeof runPipeline>>;
  try {
    run = await runPipeline({
      net,
      pool,
      outputs,
      providers: worldProviders,
      requester,
      spec,
      onProgress: say,
    });
  } finally {
    await pool.close();
  }

  const job = net.state.jobs.get(run.jobId)!;
  const byKey = new Map(worldProviders.map((p) => [p.who.publicKey as string, p]));
  const stages: DemoStage[] = [...job.stages.values()].map((s) => {
    const p = s.provider === undefined ? undefined : byKey.get(s.provider);
    const r = run.runs.find((x) => x.name === s.spec.name);
    return {
      name: s.spec.name,
      program: s.spec.program,
      provider: p?.node.name ?? "-",
      city: p?.node.city ?? "-",
      jurisdiction: p?.node.jurisdictions.join(",") ?? "-",
      status: s.status,
      pricePerUnitSecond: (s.price ?? 0n).toString(),
      costMicro: (s.paid ?? stageCost(s)).toString(),
      feeMicro: (s.fee ?? 0n).toString(),
      root: s.root ?? "",
      output: s.output ?? "",
      steps: s.steps ?? 0,
      wallMs: Math.round(r?.wallMs ?? 0),
      summary: r?.summary ?? "",
    };
  });
  const payouts = new Map<string, bigint>();
  let fees = 0n;
  for (const s of job.stages.values()) {
    if (s.provider !== undefined && s.paid !== undefined)
      payouts.set(s.provider, (payouts.get(s.provider) ?? 0n) + s.paid);
    fees += s.fee ?? 0n;
  }

  // Persist the log to the embedded store, snapshot the state, then audit it from disk.
  const dataDir = resolve(options.dataDir);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const liveHash = stateHash(net.state);
  const store = pgliteEventStore({ dataDir });
  await store.open();
  try {
    for (let i = 0; i < net.log.length; i += 500) await store.append(net.log.slice(i, i + 500));
    await store.putSnapshot({ seq: net.state.seq, stateHash: liveHash, state: encodeState(net.state) });
  } finally {
    await store.close();
  }
  const reopened = pgliteEventStore({ dataDir });
  await reopened.open();
  const audit = await auditStore(reopened, nodeEd25519, liveHash).finally(() => reopened.close());

  const allSettled = stages.every((s) => s.status === "settled");
  const report: DemoReport = {
    ok: allSettled && audit.ok,
    network: { providers: worldProviders.length, cities: cities.size, emulated: false },
    jobId: run.jobId,
    stages,
    loopRoundTrips: run.loopRoundTrips,
    settlement: {
      payouts: [...payouts].map(([k, v]) => ({
        provider: byKey.get(k)?.node.name ?? k,
        paidMicro: v.toString(),
      })),
      feesMicro: fees.toString(),
      refundMicro: (job.refund ?? 0n).toString(),
      budgetMicro: job.budget.toString(),
    },
    log: { events: net.log.length, store: "pglite", dataDir },
    audit: {
      ok: audit.ok,
      stateHash: audit.stateHash,
      events: audit.events,
      signatures: audit.signatures,
      ...(audit.error === undefined ? {} : { error: audit.error }),
    },
    wallMs: Math.round(performance.now() - t0),
  };

  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
    return report;
  }
  say(`\nStages of job ${run.jobId.slice(0, 16)}…`);
  say(
    table(
      ["stage", "program", "provider", "city", "price", "cost µ", "status", "root", "result"],
      stages.map((s) => [
        s.name,
        s.program,
        s.provider,
        s.city,
        `${s.pricePerUnitSecond} µ`,
        s.costMicro,
        s.status,
        `${s.root.slice(0, 12)}…`,
        s.summary,
      ]),
    ),
  );
  say(`\nQAOA loop: ${run.loopRoundTrips} optimizer ⇄ qpu round trips (in-process in this edition)`);
  say(`\nSettlement (credits):`);
  for (const p of report.settlement.payouts)
    say(`  paid ${p.provider.padEnd(10)} ${formatCredits(BigInt(p.paidMicro))}`);
  say(
    `  protocol fees      ${formatCredits(fees)}   (treasury now ${formatCredits(balanceOf(net.state, accounts.treasury))})`,
  );
  say(`  refund to requester ${formatCredits(job.refund ?? 0n)} of a ${formatCredits(job.budget)} budget`);
  say(`\nLog: ${net.log.length} events written to PGlite at ${dataDir}`);
  say(
    audit.ok
      ? `Audit: OK — chain intact, ${audit.signatures} signatures valid, invariants hold, state hash ${audit.stateHash}`
      : `Audit: FAILED — ${audit.error?.code}: ${audit.error?.message}`,
  );
  say(report.ok ? `\nDemo OK in ${(report.wallMs / 1000).toFixed(1)} s` : "\nDemo FAILED");
  return report;
}
