/**
 * `switchyard demo`: the seed pipeline on a real local network — a coordinator and seven provider
 * processes in six cities on three continents, talking over loopback with emulated latency between
 * their cities. It funds a requester, submits examples/seed-pipeline.yaml, watches it settle, shows
 * where each stage ran and why, then stops the network and audits the coordinator's stored log.
 * `--cheat` runs one provider as a cheater; `--kill-provider` kills one mid-stage (demo-failover.ts).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { fetchBlob } from "../agent/blob-fetch.ts";
import { terminalStatuses } from "../core/jobs/lifecycle.ts";
import type { StageStatus } from "../core/state.ts";
import type { JobView, NodeView } from "../protocol/api.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { identityFromSecret } from "../protocol/envelope.ts";
import { predictRttMs } from "../protocol/geo.ts";
import type { Cid, JobId } from "../protocol/ids.ts";
import { generateJobKey, openStageOutput } from "../protocol/job-crypto.node.ts";
import { parseJobSpec } from "../protocol/job-spec.ts";
import { formatCredits } from "../protocol/money.ts";
import { getNodes, getStatus, signAndSubmit, submitJob } from "../sdk/index.ts";
import { releaseStageKeys } from "../sdk/release-stage-keys.ts";
import { auditStore } from "../store/audit.ts";
import { pgliteEventStore } from "../store/pglite-event-store.ts";
import { cliClient } from "./client.ts";
import { watchToEnd } from "./commands/submit.ts";
import {
  failoverReport,
  type Kill,
  killModeParams,
  killModeSpec,
  killWhenProgressed,
} from "./demo-failover.ts";
import { inputPaths } from "./demo-paths.ts";
import { type NetworkDemoReport, type NetworkDemoStage, renderNetworkDemo } from "./demo-report.ts";
import { defaultProviders, startLocalNetwork } from "./local-network.ts";
import type { Output } from "./output.ts";
import { nodeName, placementWhy } from "./stage-table.ts";

export interface NetworkDemoOptions {
  readonly dataDir: string;
  readonly coordinatorCity: string;
  /** Run the Frankfurt gpu as the adversarial agent (agent/adversary.ts). */
  readonly cheat?: boolean;
  /** kill -9 the training stage's provider mid-stage, to show failover (demo-failover.ts). */
  readonly killProvider?: boolean;
  /** Stop waiting for the job after this long and report what is unfinished (default 600 s). */
  readonly timeoutSeconds?: number;
}

/** The provider `demo --cheat` turns into a cheater: the EU training stage's first choice. */
export const cheatingProvider = "fra-gpu-1";

const specPath = resolve(import.meta.dirname, "../../examples/seed-pipeline.yaml");

export async function runNetworkDemo(options: NetworkDemoOptions, out: Output): Promise<NetworkDemoReport> {
  const t0 = performance.now();
  const dataDir = resolve(options.dataDir);
  rmSync(dataDir, { recursive: true, force: true });
  const network = await startLocalNetwork(
    {
      dataDir,
      coordinatorCity: options.coordinatorCity,
      providers: defaultProviders.map((p) =>
        options.cheat === true && p.name === cheatingProvider ? { ...p, cheat: true } : p,
      ),
      emulate: true,
      verificationWindowMs: 2_000,
      ...(options.killProvider === true ? { params: killModeParams } : {}),
    },
    out.progress,
  );
  try {
    const client = cliClient(network.url);
    const requester = identityFromSecret(nodeEd25519, new Uint8Array(randomBytes(32)));
    await signAndSubmit(client, { identity: requester, type: "faucet", body: { amount: "100000000" } });
    const seed = parseJobSpec(readFileSync(specPath, "utf8"), specPath);
    const chosen = options.killProvider === true ? killModeSpec(seed) : seed;
    // Sealed: the EU-only training stage's checkpoint states are encrypted with a stage key this
    // requester releases, through the log, only to nodes inside the EU (docs/routing.md).
    const spec = { ...chosen, sealed: true as const };
    out.progress(
      `submitting ${specPath}${chosen === seed ? "" : " (training made longer to kill it mid-run)"}, sealed: ${spec.stages.length} stages, budget ${formatCredits(spec.budget)} credits`,
    );
    const { jobId } = await submitJob(client, { identity: requester, spec });
    const stopReleasing = new AbortController();
    const jobKey = generateJobKey();
    const releasing = releaseStageKeys(client, {
      identity: requester,
      jobId,
      jobKey,
      watch: { intervalMs: 100, signal: stopReleasing.signal },
    });
    const killing: Promise<Kill | undefined> =
      options.killProvider === true
        ? killWhenProgressed(client, network, jobId, () => getNodes(client), out).catch((error: unknown) => {
            out.progress(`could not kill the provider: ${String(error)}`);
            return undefined;
          })
        : Promise.resolve(undefined);
    const timeoutSeconds = options.timeoutSeconds ?? 600;
    const job = await watchToEnd(client, jobId, out, { timeoutMs: timeoutSeconds * 1000 }).finally(() =>
      stopReleasing.abort(),
    );
    if (job.status !== "finished") {
      out.progress(`the job did not finish within ${timeoutSeconds} s (--timeout); still open:`);
      for (const line of unfinishedLines(job)) out.progress(`  ${line}`);
    }
    const keys = await releasing;
    const kill = await killing;
    const nodes = await getNodes(client);
    const status = await getStatus(client);
    // Outputs are sealed (sealed job): the requester opens them with its job key.
    const open = (stage: string, bytes: Uint8Array) => openStageOutput(jobKey, jobId as JobId, stage, bytes);
    const stages = await Promise.all(
      job.stages.map((s) => describeStage(s, job, nodes, network.providers, open)),
    );
    await network.stop();
    const loopReports = network.providers.flatMap((p) =>
      p.reports
        .map((r) => r["event"] as Record<string, unknown> | undefined)
        .filter((e) => e?.["type"] === "loop" && e["role"] === "optimizer"),
    );
    const loopStage = job.stages.find((s) => s.loop !== undefined);
    const loop = {
      roundTrips: Number(loopReports[0]?.["roundTrips"] ?? 0),
      loopMs: Math.round(Number(loopReports[0]?.["loopMs"] ?? 0)),
      emulatedRttMs: stages.find((s) => s.name === loopStage?.name)?.emulatedRttMs ?? null,
    };
    const store = pgliteEventStore({ dataDir: network.storeDir });
    await store.open();
    // The acknowledged hash is of the state at status.seq; agents may sequence more (coordinate
    // reports, ticks) before they stop, and those are audited too.
    const audit = await auditStore(store, nodeEd25519, {
      seq: status.seq,
      stateHash: status.stateHash as never,
    }).finally(() => store.close());
    const payouts = new Map<string, bigint>();
    let fees = 0n;
    let verifierFees = 0n;
    for (const s of job.stages) {
      for (const c of s.checks ?? []) if (c.outcome === "verified") verifierFees += BigInt(c.fee);
      // A stage resumed after a failover pays each provider for its own steps.
      const parts =
        s.payouts?.map((p) => [p.provider, p.amount] as const) ??
        (s.provider !== undefined && s.paid !== undefined ? [[s.provider, s.paid] as const] : []);
      for (const [who, amount] of parts) payouts.set(who, (payouts.get(who) ?? 0n) + BigInt(amount));
      fees += BigInt(s.fee ?? "0");
    }
    const cheat = options.cheat === true ? cheatReport(stages, payouts, nodes) : undefined;
    const failover =
      options.killProvider === true ? failoverReport(kill, job, nodes, network.providers) : undefined;
    const report: NetworkDemoReport = {
      ok:
        job.stages.every((s) => s.status === "settled") &&
        audit.ok &&
        (cheat === undefined || cheat.caught) &&
        (failover === undefined || failover.ok),
      mode: "network",
      latency: "emulated",
      coordinator: { url: network.url, city: options.coordinatorCity },
      providers: defaultProviders.map((p) => ({
        name: p.name,
        city: p.city,
        resourceClass: p.resourceClass,
      })),
      jobId,
      stages,
      ...(job.status === "finished" ? {} : { unfinished: unfinishedLines(job) }),
      loop,
      settlement: {
        payouts: [...payouts].map(([k, v]) => ({ provider: nodeName(nodes, k), paidMicro: v.toString() })),
        feesMicro: fees.toString(),
        verifierFeesMicro: verifierFees.toString(),
        transferFeesMicro: job.transferPaid ?? "0",
        transfers: job.stages.flatMap((s) =>
          (s.transfers ?? []).map((t) => ({
            stage: s.name,
            from: t.from,
            bytes: t.bytes,
            ...(t.via === undefined ? {} : { via: nodeName(nodes, t.via) }),
            egressMicro: t.egressFee,
            relayMicro: t.relayFee,
          })),
        ),
        refundMicro: job.refund ?? "0",
        budgetMicro: job.budget,
      },
      audit: {
        ok: audit.ok,
        // The replayed hash at the acknowledged seq (the log may go on: see auditStore).
        stateHash: audit.checkedAt?.stateHash ?? null,
        acknowledgedSeq: status.seq,
        acknowledgedStateHash: status.stateHash,
        finalStateHash: audit.stateHash,
        events: audit.events,
        signatures: audit.signatures,
        ...(audit.error === undefined ? {} : { error: audit.error }),
      },
      ...(cheat === undefined ? {} : { cheat }),
      sealing: {
        released: keys.released
          .filter((r) => r.purpose === undefined)
          .map((r) => ({ stage: r.stage, to: nodeName(nodes, r.to) })),
        outputKeys: keys.released
          .filter((r) => r.purpose === "output")
          .map((r) => ({ stage: r.stage, to: nodeName(nodes, r.to) })),
        refused: keys.refused.map((r) => ({ stage: r.stage, to: nodeName(nodes, r.to), code: r.code })),
      },
      inputPaths: inputPaths(jobId, network.providers, nodes),
      ...(failover === undefined ? {} : { failover }),
      wallMs: Math.round(performance.now() - t0),
    };
    out.result(report, () => renderNetworkDemo(report));
    return report;
  } catch (error) {
    await network.stop().catch(() => {});
    throw error;
  }
}

async function describeStage(
  s: JobView["stages"][number],
  job: JobView,
  nodes: readonly NodeView[],
  providers: ReadonlyArray<{ reports: Array<Record<string, unknown>> }>,
  open: (stage: string, sealed: Uint8Array) => Uint8Array,
): Promise<NetworkDemoStage> {
  const node = nodes.find((n) => n.id === s.provider);
  const here = node === undefined ? null : { latE6: node.latE6, lonE6: node.lonE6 };
  let rtt: number | undefined;
  const latency = s.latency as { to?: { latE6?: number; lonE6?: number; stage?: string } } | undefined;
  const loop = s.loop as { with?: string } | undefined;
  const partnerPoint = (stage: string | undefined) => {
    const partner = nodes.find((n) => n.id === job.stages.find((x) => x.name === stage)?.provider);
    return partner === undefined ? null : { latE6: partner.latE6, lonE6: partner.lonE6 };
  };
  const target =
    latency?.to?.latE6 !== undefined
      ? { latE6: latency.to.latE6, lonE6: latency.to.lonE6 ?? 0 }
      : partnerPoint(latency?.to?.stage ?? loop?.with);
  if (here !== null && target !== null) rtt = predictRttMs(here, target);
  const bytesIn = providers
    .flatMap((p) => p.reports)
    .map((r) => r["event"] as Record<string, unknown> | undefined)
    .filter((e) => e?.["type"] === "input" && e["jobId"] === job.id && e["stage"] === s.name)
    .reduce(
      (n, e) => n + Number((e?.["transfer"] as { bytesReceived?: number } | undefined)?.bytesReceived ?? 0),
      0,
    );
  return {
    name: s.name,
    program: s.program,
    provider: node?.name ?? "-",
    city: node?.city ?? "-",
    jurisdiction: node?.jurisdictions.join(",") ?? "-",
    status: s.status,
    pricePerUnitSecond: s.pricePerUnitSecond ?? "0",
    costMicro: s.paid ?? "0",
    feeMicro: s.fee ?? "0",
    root: s.root ?? "",
    output: s.output ?? "",
    why: placementWhy(s, nodes),
    ...(s.placement?.cost === undefined
      ? {}
      : {
          placement: {
            cost: s.placement.cost,
            ...(s.placement.runnerUp === undefined
              ? {}
              : {
                  runnerUp: {
                    provider: nodeName(nodes, s.placement.runnerUp.provider),
                    ...(s.placement.runnerUp.cost === undefined ? {} : { cost: s.placement.runnerUp.cost }),
                  },
                }),
          },
        }),
    verification: {
      policy: s.verification ?? "none",
      checks: (s.checks ?? []).map((c) => ({
        provider: nodeName(nodes, c.provider),
        checked: c.checked,
        ratePercent: c.ratePpm / 10_000,
        ...(c.segment === undefined ? {} : { segment: c.segment }),
        ...(c.verifier === undefined ? {} : { verifier: nodeName(nodes, c.verifier) }),
        ...(c.referee === undefined ? {} : { referee: nodeName(nodes, c.referee) }),
        ...(c.rounds === undefined ? {} : { rounds: c.rounds }),
        outcome: c.outcome,
        slashed: c.slashed.map((x) => ({ who: nodeName(nodes, x.who), amountMicro: x.amount })),
      })),
    },
    ...(rtt === undefined ? {} : { emulatedRttMs: rtt }),
    bytesIn,
    result:
      node?.endpoint === undefined || s.output === undefined
        ? ""
        : await summarize(s.output as Cid, node.endpoint, (bytes) => open(s.name, bytes)),
  };
}

/** What `demo --cheat` must show: the cheater caught and slashed, unpaid, its stage re-run elsewhere. */
function cheatReport(
  stages: readonly NetworkDemoStage[],
  payouts: ReadonlyMap<string, bigint>,
  nodes: readonly NodeView[],
): NonNullable<NetworkDemoReport["cheat"]> {
  const cheater = nodes.find((n) => n.name === cheatingProvider);
  const label = cheater === undefined ? cheatingProvider : nodeName(nodes, cheater.id);
  const caughtAt = stages.find((s) =>
    s.verification.checks.some((c) => c.provider === label && c.outcome === "fraud-proven"),
  );
  const slashed = stages
    .flatMap((s) => s.verification.checks.flatMap((c) => c.slashed))
    .filter((x) => x.who === label)
    .reduce((n, x) => n + BigInt(x.amountMicro), 0n);
  return {
    provider: label,
    caught: caughtAt !== undefined && caughtAt.status === "settled" && caughtAt.provider !== cheatingProvider,
    ...(caughtAt === undefined
      ? {}
      : { stage: caughtAt.name, rerunBy: `${caughtAt.provider} (${caughtAt.city})` }),
    slashedMicro: slashed.toString(),
    paidMicro: (cheater === undefined ? 0n : (payouts.get(cheater.id) ?? 0n)).toString(),
  };
}

/** Fetch a stage's output from the provider that holds it and say what it means. */
async function summarize(
  cid: Cid,
  endpoint: string,
  open: (sealed: Uint8Array) => Uint8Array,
): Promise<string> {
  try {
    const bytes = open((await fetchBlob({ cid, sources: [endpoint], attempts: 2 })).bytes);
    const o = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    if (typeof o["accuracy"] === "number") return `test accuracy ${(o["accuracy"] * 100).toFixed(1)}%`;
    if (typeof o["trainLoss"] === "number") return `train loss ${o["trainLoss"].toFixed(4)}`;
    if (typeof o["bestEnergy"] === "number") return `best expected cut ${o["bestEnergy"].toFixed(3)}`;
    if (Array.isArray(o["expectedCuts"])) return `${o["expectedCuts"].length} circuit evaluations`;
    return `${bytes.length} bytes`;
  } catch {
    return "(output no longer served)";
  }
}

/**
 * One line per stage that has not reached a terminal status: its status and, for a stage nobody can
 * take, what excluded the offers (e.g. "train pending: no offer: timed-out-before ×2, jurisdiction ×5").
 */
export function unfinishedLines(job: JobView): string[] {
  return job.stages
    .filter((s) => !terminalStatuses.has(s.status as StageStatus))
    .map((s) => {
      const excluded = Object.entries(s.noMatch?.excluded ?? {})
        .filter(([, n]) => (n ?? 0) > 0)
        .map(([reason, n]) => `${reason} ×${n}`);
      const why = s.status === "pending" && excluded.length > 0 ? `: no offer: ${excluded.join(", ")}` : "";
      return `${s.name} ${s.status}${why}`;
    });
}
