/**
 * `switchyard demo --kill-provider`: the seed pipeline with its training provider killed (SIGKILL,
 * no goodbye) once it has reported a quarter of its steps. The coordinator notices only because the
 * provider's progress lease lapses (a deadline each report renews), places the stage on the other
 * EU gpu, which resumes from the last reported checkpoint (its state mirrored in the coordinator's
 * blob cache), and settlement pays each provider for its own steps. Only this mode changes the
 * pipeline: training runs longer (more epochs) and is declared shorter (seconds), and the network
 * holds running stages to a 20 s progress lease, so the demo waits seconds, not minutes, for the
 * dead provider's silence to be caught.
 */
import type { JobView, NodeView } from "../protocol/api.ts";
import type { SubmitJob } from "../protocol/messages.ts";
import type { Params } from "../protocol/params.ts";
import type { Client } from "../sdk/create-client.ts";
import { getJob } from "../sdk/index.ts";
import type { RunningNetwork } from "./local-network.ts";
import type { Output } from "./output.ts";
import { nodeName } from "./stage-table.ts";

/** The stage whose provider is killed. */
export const failoverStage = "train";

/**
 * A 20 s progress lease (`progressTimeoutMs`): a running provider that has reported progress and
 * then reports no checkpoint for 20 s loses its stage, so the dead one is caught seconds after the kill, while the run deadline
 * keeps its default allowance (declared × 300 % + 30 s = 90 s for the 20 s training stage). Before
 * the lease, the demo caught the dead provider with a run deadline of declared + 2 s; on a loaded
 * machine the provider that resumed then missed that deadline too, and with both EU gpus barred the
 * stage waited forever (2 of 3 runs with two CPU burners beside the demo). A 10 s lease was still
 * too short when a dozen demo processes shared the two cores: the live providers' reports came
 * later than that. The dead provider may still be drawn to verify another stage; a 20 s verdict
 * window (default 60 s) bounds what its silence costs.
 */
export const killModeParams: Partial<Params> = {
  progressTimeoutMs: 20_000,
  verdictWindowMs: 20_000,
};

/**
 * The training stage made long enough to kill mid-run (16 epochs ≈ 1,200 steps, a few seconds on
 * one core) and declared at 20 s: its run deadline comes 90 s after it starts (see killModeParams).
 */
export function killModeSpec(spec: SubmitJob): SubmitJob {
  return {
    ...spec,
    stages: spec.stages.map((s) =>
      s.name === failoverStage ? { ...s, seconds: 20, params: { ...s.params, epochs: 16 } } : s,
    ),
  };
}

/** What the watcher saw when it killed the provider. */
export interface Kill {
  readonly provider: string;
  readonly providerKey: string;
  readonly index: number;
  readonly step: number;
  readonly steps: number;
  /** Wall-clock ms when the process was gone. */
  readonly killedAt: number;
}

/**
 * Polls the job until the training stage's provider has reported at least a quarter of its steps,
 * then kill -9s that provider's process. Resolves undefined if the stage got past running first.
 */
export async function killWhenProgressed(
  client: Client,
  network: RunningNetwork,
  jobId: string,
  nodes: () => Promise<readonly NodeView[]>,
  out: Output,
): Promise<Kill | undefined> {
  for (;;) {
    const job = await getJob(client, { id: jobId }).catch(() => undefined);
    const stage = job?.stages.find((s) => s.name === failoverStage);
    if (job === undefined || stage === undefined) {
      await pause(100);
      continue;
    }
    if (
      job.status === "finished" ||
      (stage.status !== "running" && stage.status !== "matched" && stage.status !== "pending")
    )
      return undefined;
    const p = stage.progress;
    if (
      stage.status === "running" &&
      p !== undefined &&
      p.provider === stage.provider &&
      p.step * 4 >= p.steps
    ) {
      const name = (await nodes()).find((n) => n.id === p.provider)?.name ?? p.provider;
      await network.killProvider(name);
      const killedAt = Date.now();
      out.progress(
        `killed ${name} (kill -9) after it reported checkpoint ${p.index}, step ${p.step} of ${p.steps} of ${failoverStage}`,
      );
      return {
        provider: name,
        providerKey: p.provider,
        index: p.index,
        step: p.step,
        steps: p.steps,
        killedAt,
      };
    }
    await pause(100);
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What `demo --kill-provider` reports about the failover. */
export interface FailoverReport {
  readonly stage: string;
  readonly killed: {
    readonly provider: string;
    readonly atStep: number;
    readonly atCheckpoint: number;
  } | null;
  /** Sequencer time at which the lapsed progress lease was detected, and how long after the kill. */
  readonly detectedAt?: number;
  readonly detectedAfterMs?: number;
  readonly resumedFrom?: { readonly checkpoint: number; readonly step: number; readonly steps: number };
  readonly resumedBy?: string;
  /** Where the resuming provider got the state (the coordinator's cache), or why it ran from step 0. */
  readonly resumeSource?: string;
  readonly fromScratch?: string;
  readonly payouts: ReadonlyArray<{
    readonly provider: string;
    readonly fromStep: number;
    readonly toStep: number;
    readonly amountMicro: string;
  }>;
  readonly paidMicro: string;
  /** Killed, detected, resumed elsewhere from a checkpoint, and paid once per step. */
  readonly ok: boolean;
}

/** The failover as the final job view and the agents' reports show it. */
export function failoverReport(
  kill: Kill | undefined,
  job: JobView,
  nodes: readonly NodeView[],
  providers: ReadonlyArray<{ readonly reports: ReadonlyArray<Record<string, unknown>> }>,
): FailoverReport {
  const stage = job.stages.find((s) => s.name === failoverStage);
  const handoff = stage?.handoffs?.find((h) => h.provider === kill?.providerKey);
  const resumed = providers
    .flatMap((p) => p.reports)
    .map((r) => r["event"] as Record<string, unknown> | undefined)
    .find((e) => e?.["type"] === "resumed" && e["jobId"] === job.id && e["stage"] === failoverStage);
  const payouts = (stage?.payouts ?? []).map((p) => ({
    provider: nodeName(nodes, p.provider),
    fromStep: p.fromStep,
    toStep: p.toStep,
    amountMicro: p.amount,
  }));
  const paid = stage?.paid ?? "0";
  const sum = (stage?.payouts ?? []).reduce((n, p) => n + BigInt(p.amount), 0n);
  const ok =
    kill !== undefined &&
    handoff !== undefined &&
    stage?.status === "settled" &&
    stage.provider !== kill.providerKey &&
    payouts.length >= 2 &&
    sum === BigInt(paid);
  return {
    stage: failoverStage,
    killed:
      kill === undefined ? null : { provider: kill.provider, atStep: kill.step, atCheckpoint: kill.index },
    ...(handoff === undefined
      ? {}
      : {
          detectedAt: handoff.at,
          ...(kill === undefined ? {} : { detectedAfterMs: handoff.at - kill.killedAt }),
          resumedFrom: { checkpoint: handoff.index, step: handoff.toStep, steps: stage?.steps ?? 0 },
        }),
    ...(stage?.provider === undefined ? {} : { resumedBy: nodeName(nodes, stage.provider) }),
    ...(typeof resumed?.["source"] === "string" ? { resumeSource: resumed["source"] } : {}),
    ...(typeof resumed?.["fromScratch"] === "string" ? { fromScratch: resumed["fromScratch"] } : {}),
    payouts,
    paidMicro: paid,
    ok,
  };
}

/** The lines `demo --kill-provider` prints about the failover. */
export function failoverLines(f: FailoverReport, credits: (micro: bigint) => string): string[] {
  if (f.killed === null) return [`failover: the ${f.stage} provider was never killed (it finished first)`];
  const lines = [
    `failover: killed ${f.killed.provider} (kill -9) at step ${f.killed.atStep}, checkpoint ${f.killed.atCheckpoint} of ${f.stage}`,
  ];
  if (f.detectedAt === undefined) return [...lines, "  the missed deadline was NOT detected"];
  lines.push(
    `  detected by its lapsed progress lease ${((f.detectedAfterMs ?? 0) / 1000).toFixed(1)} s after the kill (sequencer time ${f.detectedAt})`,
    `  resumed from checkpoint ${f.resumedFrom?.checkpoint}, step ${f.resumedFrom?.step} of ${f.resumedFrom?.steps}, on ${f.resumedBy}` +
      (f.resumeSource === undefined
        ? ` (from step 0: ${f.fromScratch ?? "?"})`
        : ` (state from ${f.resumeSource})`),
    `  paid once per step, ${credits(BigInt(f.paidMicro))} in all:`,
    ...f.payouts.map(
      (p) =>
        `    ${p.provider.padEnd(26)} steps ${p.fromStep}–${p.toStep}  ${credits(BigInt(p.amountMicro))}`,
    ),
  );
  return lines;
}
