/**
 * What the networked demo reports (demo-network.ts): the report's shape — the JSON `--json`
 * prints — and its human rendering.
 */
import type { JobView } from "../protocol/api.ts";
import { formatCredits } from "../protocol/money.ts";
import type { DemoStageCore } from "./demo.ts";
import { type FailoverReport, failoverLines } from "./demo-failover.ts";
import { type DemoInputPath, inputPathLines } from "./demo-paths.ts";
import { table } from "./table.ts";

type CostTerms = NonNullable<NonNullable<JobView["stages"][number]["placement"]>["cost"]>;

/** One verification of a stage, as the demo reports it. */
export interface DemoCheck {
  readonly provider: string;
  readonly checked: boolean;
  readonly ratePercent: number;
  readonly segment?: number;
  readonly verifier?: string;
  readonly referee?: string;
  readonly rounds?: number;
  readonly outcome: string;
  readonly slashed: ReadonlyArray<{ readonly who: string; readonly amountMicro: string }>;
}

export interface NetworkDemoStage extends DemoStageCore {
  readonly why: string;
  /** The modelled round trip that mattered for this stage (to its latency target or loop partner). */
  readonly emulatedRttMs?: number;
  readonly bytesIn: number;
  readonly result: string;
  /** The chosen provider's effective cost term by term, and the runner-up's (what separated them). */
  readonly placement?: {
    readonly cost: CostTerms;
    readonly runnerUp?: { readonly provider: string; readonly cost?: CostTerms };
  };
  /** The stage's policy (none, spot) and every verification of it, oldest first. */
  readonly verification: { readonly policy: string; readonly checks: readonly DemoCheck[] };
}

export interface NetworkDemoReport {
  readonly ok: boolean;
  readonly mode: "network";
  readonly latency: "emulated";
  readonly coordinator: { readonly url: string; readonly city: string };
  readonly providers: ReadonlyArray<{
    readonly name: string;
    readonly city: string;
    readonly resourceClass: string;
  }>;
  readonly jobId: string;
  readonly stages: readonly NetworkDemoStage[];
  /** When the job did not finish within `--timeout`: one line per open stage (unfinishedLines). */
  readonly unfinished?: readonly string[];
  readonly loop: {
    readonly roundTrips: number;
    readonly loopMs: number;
    readonly emulatedRttMs: number | null;
  };
  readonly settlement: {
    readonly payouts: ReadonlyArray<{ readonly provider: string; readonly paidMicro: string }>;
    readonly feesMicro: string;
    /** Verifier fees paid from escrow for checks that verified a result. */
    readonly verifierFeesMicro: string;
    /** Bandwidth and relay fees paid from the transfer budget on the readers' receipts. */
    readonly transferFeesMicro: string;
    readonly transfers: ReadonlyArray<{
      readonly stage: string;
      readonly from: string;
      readonly bytes: number;
      readonly via?: string;
      readonly egressMicro: string;
      readonly relayMicro: string;
    }>;
    readonly refundMicro: string;
    readonly budgetMicro: string;
  };
  readonly audit: {
    readonly ok: boolean;
    readonly stateHash: string | null;
    readonly acknowledgedStateHash: string;
    readonly acknowledgedSeq: number;
    /** The state hash after the last stored event (later than the acknowledged one if agents went on). */
    readonly finalStateHash: string | null;
    readonly events: number;
    readonly signatures: number;
    readonly error?: unknown;
  };
  /**
   * The job is sealed: each EU-only stage's key, released by the requester through the log, and to
   * whom (only nodes inside the EU; the core refuses any other recipient).
   */
  readonly sealing: {
    /** Stage keys (restricted stages' states): only to nodes inside the stage's jurisdictions. */
    readonly released: ReadonlyArray<{ readonly stage: string; readonly to: string }>;
    /** Output keys: to each stage's provider and to the providers and verifiers that read the output. */
    readonly outputKeys: ReadonlyArray<{ readonly stage: string; readonly to: string }>;
    readonly refused: ReadonlyArray<{ readonly stage: string; readonly to: string; readonly code: string }>;
  };
  /** How each sealed output moved to the stage that read it: the path chosen, its runner-up, the attempts. */
  readonly inputPaths: readonly DemoInputPath[];
  /** With --cheat: whether the cheater was caught, what it lost, and who re-ran its stage. */
  readonly cheat?: {
    readonly provider: string;
    readonly caught: boolean;
    readonly stage?: string;
    readonly slashedMicro: string;
    readonly paidMicro: string;
    readonly rerunBy?: string;
  };
  /** With --kill-provider: who was killed, when the deadline caught it, where the stage resumed, who was paid what. */
  readonly failover?: FailoverReport;
  readonly wallMs: number;
}

/** One line per verification: the decision and its outcome. */
function checkLines(s: NetworkDemoStage): string[] {
  if (s.verification.policy === "none") return [`  ${s.name.padEnd(10)} policy none: not verified`];
  return s.verification.checks.map((c) => {
    const decision = c.checked
      ? `checked (rate ${c.ratePercent}%) segment ${c.segment} by ${c.verifier ?? "-"}`
      : `not checked (rate ${c.ratePercent}%)`;
    const dispute = c.referee === undefined ? "" : `; dispute ${c.rounds} rounds, referee ${c.referee}`;
    const slash = c.slashed.map((x) => `; slashed ${x.who} ${formatCredits(BigInt(x.amountMicro))}`).join("");
    return `  ${s.name.padEnd(10)} ${c.provider}: ${decision}${dispute} → ${c.outcome}${slash}`;
  });
}

/** The human report: where each stage ran and why, keys and paths, verification, settlement, audit. */
export function renderNetworkDemo(r: NetworkDemoReport): string {
  const lines = [
    `Switchyard demo: coordinator in ${r.coordinator.city} + ${r.providers.length} providers in ${new Set(r.providers.map((p) => p.city)).size} cities, separate processes on loopback; latencies between cities are EMULATED from the built-in model`,
    "",
    table(
      [
        "stage",
        "provider",
        "city",
        "jurisdictions",
        "status",
        "price µ",
        "cost",
        "RTT (emulated)",
        "data in",
        "root",
      ],
      r.stages.map((s) => [
        s.name,
        s.provider,
        s.city,
        s.jurisdiction,
        s.status,
        s.pricePerUnitSecond,
        formatCredits(BigInt(s.costMicro)),
        s.emulatedRttMs === undefined ? "-" : `${s.emulatedRttMs} ms`,
        s.bytesIn === 0 ? "-" : `${(s.bytesIn / 1024).toFixed(1)} KiB`,
        `${s.root.slice(0, 12)}…`,
      ]),
    ),
    "",
    "why each stage went where it did:",
    ...r.stages.map((s) => `  ${s.name.padEnd(10)} ${s.why}${s.result ? ` → ${s.result}` : ""}`),
    "",
    `sealed: EU-only stage keys released through the log to ${
      r.sealing.released.map((k) => `${k.to} (${k.stage})`).join(", ") || "nobody"
    }${r.sealing.refused.length === 0 ? "" : `; refused: ${r.sealing.refused.map((k) => `${k.to} ${k.code}`).join(", ")}`}`,
    `sealed outputs: ${r.sealing.outputKeys.length} output keys released (each stage's provider and its readers; never a relay)`,
    ...inputPathLines(r.inputPaths),
    "",
    "verification (spot checks drawn from the log's beacon after each commitment):",
    ...r.stages.flatMap(checkLines),
    ...(r.cheat === undefined
      ? []
      : [
          r.cheat.caught
            ? `cheater ${r.cheat.provider}: CAUGHT on ${r.cheat.stage}, slashed ${formatCredits(BigInt(r.cheat.slashedMicro))}, paid ${formatCredits(BigInt(r.cheat.paidMicro))}; stage re-run by ${r.cheat.rerunBy}; the requester paid only for the verified re-run`
            : `cheater ${r.cheat.provider}: NOT caught`,
        ]),
    ...(r.failover === undefined ? [] : ["", ...failoverLines(r.failover, formatCredits)]),
    "",
    `QAOA loop: ${r.loop.roundTrips} optimizer ⇄ qpu round trips over HTTP in ${(r.loop.loopMs / 1000).toFixed(1)} s (each pays the emulated ${r.loop.emulatedRttMs ?? "?"} ms RTT)`,
    "",
    "settlement (credits):",
    ...r.settlement.payouts.map(
      (p) => `  paid ${p.provider.padEnd(26)} ${formatCredits(BigInt(p.paidMicro))}`,
    ),
    `  protocol fees                   ${formatCredits(BigInt(r.settlement.feesMicro))}`,
    `  verifier fees (from escrow)     ${formatCredits(BigInt(r.settlement.verifierFeesMicro))}`,
    `  transfer fees (egress + relay)  ${formatCredits(BigInt(r.settlement.transferFeesMicro))}${r.settlement.transfers
      .map(
        (t) =>
          `; ${t.stage} ← ${t.from}: ${t.bytes} bytes${t.via === undefined ? "" : ` via ${t.via}`}, egress ${t.egressMicro} µ${t.via === undefined ? "" : ` + relay ${t.relayMicro} µ`}`,
      )
      .join("")}`,
    `  refund to requester             ${formatCredits(BigInt(r.settlement.refundMicro))} of ${formatCredits(BigInt(r.settlement.budgetMicro))}`,
    "",
    r.audit.ok
      ? `audit: OK — ${r.audit.events} events, ${r.audit.signatures} signatures valid, invariants hold, state hash at seq ${r.audit.acknowledgedSeq} ${r.audit.stateHash} = acknowledged`
      : `audit: FAILED — ${JSON.stringify(r.audit.error)}`,
    r.ok ? `demo OK in ${(r.wallMs / 1000).toFixed(1)} s` : "demo FAILED",
  ];
  return lines.join("\n");
}
