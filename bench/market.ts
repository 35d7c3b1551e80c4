/**
 * `npm run bench -- market`: placement decisions per second and their p99 latency for the `market`
 * heuristic at 1,000, 10,000 and 100,000 providers (GPU offers of the Vast catalogue spread over the
 * measured cities of their countries; requests from Alibaba pod sizes). A decision places one stage
 * whose input is at the requester's site, commits its units, and explains itself (chosen provider and
 * runner-up); units are released 1,000 decisions later, so the book stays partly booked. The same
 * requests through a linear scan of every provider (the `price-only` baseline's loop with the full
 * effective cost) are the baseline in the same run.
 */
import {
  admissible,
  type CompiledPipeline,
  compilePipeline,
  type RoutingNetwork,
  unaryCost,
} from "../src/core/routing/network.ts";
import { placePipeline } from "../src/core/routing/place-pipeline.ts";
import { buildProviderIndex } from "../src/core/routing/placement.ts";
import { predictRttMs } from "../src/protocol/geo.ts";
import { SimRandom } from "../src/sim/random.ts";
import {
  buildProviders,
  defaultDataDir,
  generatePipeline,
  hostedJurisdictions,
  loadRealData,
  missingDataFiles,
} from "../src/sim/routing/scenario.ts";
import { type BenchSuite, decisionLines } from "./lib.ts";
import { liveMatcher } from "./market-live.ts";

const decisions = Number(process.env["MARKET_DECISIONS"] ?? 20_000);
const releaseAfter = 1_000;

export const marketSuite: BenchSuite = async (log) => {
  const missing = missingDataFiles(defaultDataDir);
  if (missing.length > 0) {
    console.error(`market: skipped — the real data is absent (${missing[0]}); nothing was measured`);
    return;
  }
  const data = loadRealData(defaultDataDir);
  // The built-in geographic model between sites, memoized: the bench measures placement, not RTT.
  const memo = new Map<number, number>();
  const rtt = (a: number, b: number) => {
    const k = a * 65536 + b;
    let v = memo.get(k);
    if (v === undefined) {
      v = predictRttMs(data.sites[a]!, data.sites[b]!);
      memo.set(k, v);
    }
    return v;
  };
  for (const count of [1_000, 10_000, 100_000]) {
    const network: RoutingNetwork = {
      sites: data.sites,
      providers: buildProviders(data, count, 42),
      rttMs: rtt,
    };
    const t0 = performance.now();
    const index = buildProviderIndex(network);
    const buildMs = performance.now() - t0;
    const hosted = hostedJurisdictions(data, network.providers);
    const random = new SimRandom(7);
    const requests = Array.from({ length: 4_096 }, () => {
      const p = generatePipeline(data, random, 2, hosted);
      return compilePipeline(network, {
        ...p,
        stages: [{ ...p.stages[0]!, inputs: [{ from: null, bytes: p.stages[0]!.inputs[0]!.bytes }] }],
      });
    });
    for (const placer of ["indexed", "scan"] as const) {
      // The scan is O(providers) per decision: fewer decisions at 100,000 keep the run short.
      const n = placer === "scan" ? Math.min(decisions, Math.floor(2e8 / count / 10)) : decisions;
      // Untimed warm-up on a scratch copy of the book, so the JIT has compiled the placer.
      const scratch = network.providers.map((p) => p.capacity);
      for (let k = 0; k < Math.min(n, 500); k++) {
        if (placer === "indexed") placePipeline(requests[k]!, index, "market", scratch);
        else scanPlace(requests[k]!, scratch);
      }
      const free = network.providers.map((p) => p.capacity);
      const held: Array<{ provider: number; units: number }> = [];
      const times: number[] = [];
      let placed = 0;
      const start = performance.now();
      for (let k = 0; k < n; k++) {
        const c = requests[k % requests.length]!;
        const t = performance.now();
        let chosen = -1;
        if (placer === "indexed") {
          const r = placePipeline(c, index, "market", free);
          if (r.ok) chosen = r.assignment[0]!;
        } else {
          chosen = scanPlace(c, free);
        }
        times.push(performance.now() - t);
        if (chosen >= 0) {
          placed++;
          free[chosen]! -= c.pipeline.stages[0]!.units;
          held.push({ provider: chosen, units: c.pipeline.stages[0]!.units });
        }
        if (held.length > releaseAfter) {
          const h = held.shift()!;
          free[h.provider]! += h.units;
        }
      }
      const line = decisionLines(log, { providers: count, placer, decisions: n, placed }, times, start);
      if (placer === "indexed") line("index_build_ms", buildMs, "ms");
    }
  }
  if (process.env["MARKET_LIVE"] !== "0") await liveMatcher(log, data);
};

/** The baseline: every provider's full effective cost, lowest wins, ties to the lower id. */
function scanPlace(c: CompiledPipeline, free: readonly number[]): number {
  const stage = c.pipeline.stages[0]!;
  const providers = c.network.providers;
  let best = -1;
  let bestCost = 0;
  for (let k = 0; k < providers.length; k++) {
    const p = providers[k]!;
    if (free[k]! < stage.units || !admissible(c.network, stage, p)) continue;
    const cost = unaryCost(c, 0, p).total;
    if (best < 0 || cost < bestCost || (cost === bestCost && p.id < providers[best]!.id)) {
      best = k;
      bestCost = cost;
    }
  }
  return best;
}
