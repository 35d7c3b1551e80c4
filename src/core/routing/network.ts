/**
 * The routing model: sites (where providers are, with the jurisdictions that hold there), providers
 * (what they sell, for how much, how fast and how reliably), pipelines (DAGs of stages with data
 * edges, latency bounds and loops), and the objective a placement minimizes.
 *
 * Objective of a placement = Σ over stages of the stage's effective cost (effective-cost.ts), where
 * the delay term counts the queue, moving each input from where it is (the data source, or the site
 * of the stage that produced it) and the loop's round trips. Delays are summed along edges rather
 * than taken on the critical path: the sum decomposes into per-stage (unary) and per-edge (pairwise)
 * terms, which is what both the heuristic and the exact solver need, and it equals the critical
 * path on chains. Completion time on the critical path is measured separately by the benchmark.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import { type EffectiveCost, effectiveCost, timeValue, transferMs } from "./effective-cost.ts";

export interface Site {
  readonly name: string;
  /** The country and blocs ("EU") that hold at this site. */
  readonly jurisdictions: readonly string[];
  /** Bandwidth of the site's uplink, bytes per second; a transfer runs at the slower end's. */
  readonly bandwidthBytesPerSecond: number;
}

export interface Provider {
  /** Unique; the last tie-breaker everywhere (lower id wins). */
  readonly id: number;
  /** Index into `RoutingNetwork.sites`. */
  readonly site: number;
  readonly resourceClass: string;
  /** Units (GPUs, cores) this provider can hold at once. */
  readonly capacity: number;
  /** micro-credits per unit-second */
  readonly pricePerUnitSecond: number;
  /** Work units per second per unit (1 = the reference device). */
  readonly throughput: number;
  readonly queueMs: number;
  /** Probability of failure or proven fraud per attempt, bps (from reputation). */
  readonly failureBps: number;
}

export interface RoutingNetwork {
  readonly sites: readonly Site[];
  readonly providers: readonly Provider[];
  /** Predicted RTT between two sites, ms (network coordinates, or the geographic model). */
  readonly rttMs: (a: number, b: number) => number;
}

export interface StageInput {
  /** The stage whose output this is, or null for the pipeline's input data at `sourceSite`. */
  readonly from: string | null;
  readonly bytes: number;
}

export interface PipelineStage {
  readonly name: string;
  readonly resourceClass: string;
  readonly units: number;
  /** Reference-device seconds of work: duration on a provider = work / throughput. */
  readonly work: number;
  readonly inputs: readonly StageInput[];
  /** Hard: the provider's site must hold one of these. Absent: anywhere. */
  readonly jurisdictions?: readonly string[];
  /** Exchanges messages `iterations` times with another stage (e.g. an optimizer and a QPU). */
  readonly loop?: { readonly with: string; readonly iterations: number; readonly maxRttMs?: number };
  /** Hard: predicted RTT to another stage's provider at most `maxRttMs`. */
  readonly latency?: { readonly to: string; readonly maxRttMs: number };
  readonly verificationBps: number;
}

export interface Pipeline {
  /** Stages in an order where every input's producer comes first. */
  readonly stages: readonly PipelineStage[];
  /** Where the input data is. */
  readonly sourceSite: number;
  /** Where the requester is (single-region baseline). */
  readonly homeSite: number;
  readonly valueOfTimePerSecond: number;
}

/** provider index (into network.providers) per stage, in stage order. */
export type Assignment = readonly number[];

/** A pipeline compiled against a network: stage names resolved to indices, edges listed once. */
export interface CompiledPipeline {
  readonly pipeline: Pipeline;
  readonly network: RoutingNetwork;
  /** Data edges and loops between stages: cost = vot × (bytes transfer or iterations × RTT). */
  readonly edges: ReadonlyArray<{
    readonly a: number;
    readonly b: number;
    readonly bytes: number;
    readonly loops: number;
  }>;
  /** Hard RTT bounds between stage pairs. */
  readonly bounds: ReadonlyArray<{ readonly a: number; readonly b: number; readonly maxRttMs: number }>;
  /** Input bytes per stage that come from the data source. */
  readonly sourceBytes: readonly number[];
}

/** Resolves names and checks the order. @throws SwitchyardError INVALID_JOB */
export function compilePipeline(network: RoutingNetwork, pipeline: Pipeline): CompiledPipeline {
  const index = new Map<string, number>();
  const edges: Array<{ a: number; b: number; bytes: number; loops: number }> = [];
  const bounds: Array<{ a: number; b: number; maxRttMs: number }> = [];
  const sourceBytes: number[] = [];
  const find = (name: string, at: number, what: string, mustPrecede: boolean): number => {
    const i = index.get(name) ?? pipeline.stages.findIndex((s) => s.name === name);
    if (i < 0 || (mustPrecede && i >= at) || i === at) {
      throw new SwitchyardError(
        "INVALID_JOB",
        `stage ${pipeline.stages[at]!.name}: ${what} "${name}" is ${i < 0 ? "unknown" : "not an earlier stage"}`,
      );
    }
    return i;
  };
  pipeline.stages.forEach((s, i) => {
    if (index.has(s.name)) throw new SwitchyardError("INVALID_JOB", `duplicate stage name "${s.name}"`);
    index.set(s.name, i);
    let fromSource = 0;
    for (const input of s.inputs) {
      if (input.from === null) fromSource += input.bytes;
      else edges.push({ a: find(input.from, i, "input", true), b: i, bytes: input.bytes, loops: 0 });
    }
    sourceBytes.push(fromSource);
    if (s.loop !== undefined) {
      const j = find(s.loop.with, i, "loop partner", false);
      edges.push({ a: Math.min(i, j), b: Math.max(i, j), bytes: 0, loops: s.loop.iterations });
      if (s.loop.maxRttMs !== undefined)
        bounds.push({ a: Math.min(i, j), b: Math.max(i, j), maxRttMs: s.loop.maxRttMs });
    }
    if (s.latency !== undefined) {
      const j = find(s.latency.to, i, "latency bound to", false);
      bounds.push({ a: Math.min(i, j), b: Math.max(i, j), maxRttMs: s.latency.maxRttMs });
    }
  });
  return { pipeline, network, edges, bounds, sourceBytes };
}

/** True when the provider may run the stage at all: class, jurisdiction and size. */
export function admissible(network: RoutingNetwork, stage: PipelineStage, provider: Provider): boolean {
  if (provider.resourceClass !== stage.resourceClass || provider.capacity < stage.units) return false;
  const allowed = stage.jurisdictions;
  if (allowed === undefined) return true;
  const held = network.sites[provider.site]!.jurisdictions;
  return allowed.some((j) => held.includes(j));
}

/**
 * ms to move `bytes` between two sites: one RTT plus the bytes at the slower uplink. Within one site
 * the data is already local (same data centre or metro network, not the WAN uplink): 0.
 */
export function siteTransferMs(network: RoutingNetwork, bytes: number, a: number, b: number): number {
  if (bytes <= 0 || a === b) return 0;
  const bw = Math.min(network.sites[a]!.bandwidthBytesPerSecond, network.sites[b]!.bandwidthBytesPerSecond);
  return transferMs(bytes, network.rttMs(a, b), bw);
}

/** Execution time of the stage on the provider, whole ms. */
export function durationMs(stage: PipelineStage, provider: Provider): number {
  return Math.round((stage.work * 1000) / provider.throughput);
}

/**
 * The stage's own terms on a provider: compute, execution time, queue, moving the source input,
 * risk and verification — everything that does not depend on where the other stages are.
 */
export function unaryCost(c: CompiledPipeline, stage: number, provider: Provider): EffectiveCost {
  const s = c.pipeline.stages[stage]!;
  return effectiveCost({
    pricePerUnitSecond: provider.pricePerUnitSecond,
    units: s.units,
    durationMs: durationMs(s, provider),
    valueOfTimePerSecond: c.pipeline.valueOfTimePerSecond,
    queueMs: provider.queueMs,
    transferMs: siteTransferMs(c.network, c.sourceBytes[stage]!, c.pipeline.sourceSite, provider.site),
    loopMs: 0,
    failureBps: provider.failureBps,
    verificationBps: s.verificationBps,
  });
}

/** The cost of one edge between two sites: value of time × (transfer, or iterations × RTT). */
export function edgeCost(
  c: CompiledPipeline,
  edge: { readonly bytes: number; readonly loops: number },
  siteA: number,
  siteB: number,
): number {
  const rtt = siteA === siteB ? 0 : c.network.rttMs(siteA, siteB);
  const ms = siteTransferMs(c.network, edge.bytes, siteA, siteB) + edge.loops * Math.round(rtt);
  return timeValue(c.pipeline.valueOfTimePerSecond, ms);
}

/** Total objective of a complete assignment (Σ unary + Σ edges), micro-credits. */
export function objective(c: CompiledPipeline, assignment: Assignment): number {
  const providers = c.network.providers;
  let total = 0;
  for (let i = 0; i < assignment.length; i++) total += unaryCost(c, i, providers[assignment[i]!]!).total;
  for (const e of c.edges) {
    total += edgeCost(c, e, providers[assignment[e.a]!]!.site, providers[assignment[e.b]!]!.site);
  }
  return total;
}

/** What a placement broke, if anything: checked independently of how it was found. */
export interface Violation {
  readonly stage: string;
  readonly kind: "jurisdiction" | "resource-class" | "capacity" | "latency";
}

/** Every hard constraint, checked against a complete assignment and the providers' free capacity. */
export function violations(
  c: CompiledPipeline,
  assignment: Assignment,
  freeUnits: (provider: number) => number = (p) => c.network.providers[p]!.capacity,
): Violation[] {
  const out: Violation[] = [];
  const used = new Map<number, number>();
  c.pipeline.stages.forEach((s, i) => {
    const p = c.network.providers[assignment[i]!]!;
    if (p.resourceClass !== s.resourceClass) out.push({ stage: s.name, kind: "resource-class" });
    const held = c.network.sites[p.site]!.jurisdictions;
    if (s.jurisdictions !== undefined && !s.jurisdictions.some((j) => held.includes(j))) {
      out.push({ stage: s.name, kind: "jurisdiction" });
    }
    const u = (used.get(assignment[i]!) ?? 0) + s.units;
    used.set(assignment[i]!, u);
    if (u > freeUnits(assignment[i]!)) out.push({ stage: s.name, kind: "capacity" });
  });
  for (const b of c.bounds) {
    const sa = c.network.providers[assignment[b.a]!]!.site;
    const sb = c.network.providers[assignment[b.b]!]!.site;
    if (sa !== sb && c.network.rttMs(sa, sb) > b.maxRttMs) {
      out.push({ stage: c.pipeline.stages[b.b]!.name, kind: "latency" });
    }
  }
  return out;
}
