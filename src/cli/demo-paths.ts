/**
 * The demo's account of how sealed stage outputs moved between providers (docs/routing.md "Sealed
 * outputs and relayed inputs"): for each routed input, the path the router chose first and why, its
 * runner-up, every attempt, and the path that delivered — read from the agents' `inputPath` events.
 */
import type { NodeView } from "../protocol/api.ts";

export interface DemoPathEstimate {
  /** `direct`, or `relay <name> (<city>)`. */
  readonly path: string;
  readonly predictedMs: number;
  readonly feeMicro: string;
}

export interface DemoInputPath {
  /** The reading stage, who read it (its provider, or a verifier checking it), and the stage whose output it read. */
  readonly stage: string;
  readonly reader: string;
  readonly input: string;
  readonly reason: string;
  readonly chosen: DemoPathEstimate;
  readonly runnerUp: DemoPathEstimate | null;
  /** Every path tried, in order: `direct: UNREACHABLE`, `relay zrh-relay-1 (Zurich): ok`. */
  readonly attempts: readonly string[];
  readonly delivered: string;
}

interface PathEvent {
  readonly type: "inputPath";
  readonly jobId: string;
  readonly stage: string;
  readonly input: string;
  readonly path: PathLike;
  readonly plan: {
    readonly chosen: PathLike;
    readonly alternative: PathLike | null;
    readonly reason: string;
  };
  readonly attempts: ReadonlyArray<{ readonly path: PathLike; readonly error?: { readonly code: string } }>;
}

interface PathLike {
  readonly kind: string;
  readonly relay?: string;
  readonly predictedMs: number;
  readonly fee: string | number | bigint;
}

/**
 * Every routed input of `jobId`, from the providers' reported events, in report order.
 *
 * @example inputPaths(jobId, network.providers, nodes)[0]?.delivered // "relay zrh-relay-1 (Zurich)"
 */
export function inputPaths(
  jobId: string,
  providers: ReadonlyArray<{ name: string; reports: ReadonlyArray<Record<string, unknown>> }>,
  nodes: readonly NodeView[],
): DemoInputPath[] {
  const name = (p: PathLike) => {
    if (p.kind !== "relay") return "direct";
    const node = nodes.find((n) => n.id === p.relay);
    return node === undefined ? `relay ${p.relay?.slice(0, 8)}…` : `relay ${node.name} (${node.city})`;
  };
  const estimate = (p: PathLike): DemoPathEstimate => ({
    path: name(p),
    predictedMs: p.predictedMs,
    feeMicro: String(p.fee),
  });
  const cityOf = (name: string) => nodes.find((n) => n.name === name)?.city;
  return providers
    .flatMap((p) => p.reports.map((r) => ({ reader: p.name, event: r["event"] as PathEvent | undefined })))
    .filter(
      (r): r is { reader: string; event: PathEvent } =>
        r.event?.type === "inputPath" && r.event.jobId === jobId,
    )
    .map(({ reader, event: e }) => ({
      stage: e.stage,
      reader: cityOf(reader) === undefined ? reader : `${reader} (${cityOf(reader)})`,
      input: e.input,
      reason: e.plan.reason,
      chosen: estimate(e.plan.chosen),
      runnerUp: e.plan.alternative === null ? null : estimate(e.plan.alternative),
      attempts: e.attempts.map((a) => `${name(a.path)}: ${a.error?.code ?? "ok"}`),
      delivered: name(e.path),
    }));
}

/** One line per routed input, for the human report. */
export function inputPathLines(paths: readonly DemoInputPath[]): string[] {
  if (paths.length === 0) return [];
  return [
    "data between stages (sealed under each stage's output key; relays carry ciphertext):",
    ...paths.map((p) => {
      const runnerUp =
        p.runnerUp === null ? "no alternative" : `runner-up ${p.runnerUp.path} ${p.runnerUp.predictedMs} ms`;
      const tried = p.attempts.length > 1 ? `; tried ${p.attempts.join(", ")}` : "";
      return `  ${p.stage} ← ${p.input}, read by ${p.reader}: ${p.delivered} (first choice ${p.chosen.path}, predicted ${p.chosen.predictedMs} ms, fee ${p.chosen.feeMicro} µ; ${runnerUp}${tried})`;
    }),
  ];
}
