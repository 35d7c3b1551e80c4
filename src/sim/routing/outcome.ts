/**
 * What a placement means for the requester, measured on the *true* network (measured RTTs) rather
 * than the router's prediction: completion time on the critical path, and the money paid.
 */
import { effectiveCost, transferMs } from "../../core/routing/effective-cost.ts";
import { type Assignment, type CompiledPipeline, durationMs } from "../../core/routing/network.ts";

/**
 * Critical-path completion, ms: a stage starts when all its inputs have arrived (the source's at
 * t = 0, a producer's at its finish plus the transfer), waits its queue, runs its duration stretched
 * by the expected redo (× (1 + failure probability)) and its loop's round trips.
 */
export function completionMs(
  c: CompiledPipeline,
  assignment: Assignment,
  trueRttMs: (a: number, b: number) => number,
): number {
  const providers = c.network.providers;
  const sites = c.network.sites;
  const rtt = (a: number, b: number) => (a === b ? 0 : trueRttMs(a, b));
  const move = (bytes: number, a: number, b: number) =>
    bytes <= 0 || a === b
      ? 0
      : transferMs(
          bytes,
          rtt(a, b),
          Math.min(sites[a]!.bandwidthBytesPerSecond, sites[b]!.bandwidthBytesPerSecond),
        );
  const finish: number[] = [];
  c.pipeline.stages.forEach((s, i) => {
    const p = providers[assignment[i]!]!;
    let start = move(c.sourceBytes[i]!, c.pipeline.sourceSite, p.site);
    for (const e of c.edges) {
      if (e.b !== i || e.loops > 0) continue;
      start = Math.max(start, finish[e.a]! + move(e.bytes, providers[assignment[e.a]!]!.site, p.site));
    }
    let loopMs = 0;
    for (const e of c.edges) {
      if (e.b === i && e.loops > 0) loopMs += e.loops * rtt(providers[assignment[e.a]!]!.site, p.site);
    }
    const run = (durationMs(s, p) * (10_000 + p.failureBps)) / 10_000;
    finish.push(start + p.queueMs + run + loopMs);
  });
  return Math.max(0, ...finish);
}

/** Expected money paid, micro-credits: compute, the expected redo of it, and verification. */
export function moneyCost(c: CompiledPipeline, assignment: Assignment): number {
  let total = 0;
  c.pipeline.stages.forEach((s, i) => {
    const p = c.network.providers[assignment[i]!]!;
    const cost = effectiveCost({
      pricePerUnitSecond: p.pricePerUnitSecond,
      units: s.units,
      durationMs: durationMs(s, p),
      valueOfTimePerSecond: 0,
      queueMs: 0,
      transferMs: 0,
      loopMs: 0,
      failureBps: p.failureBps,
      verificationBps: s.verificationBps,
    });
    total += cost.compute + cost.risk + cost.verification;
  });
  return total;
}
