/**
 * `npm run bench -- routing`: pipeline placement on the real data of ../shared/data (cities and
 * measured RTTs from WonderProxy, GPU offers and prices from the Vast catalogue, chip throughput from
 * Epoch AI, GPU counts and job lengths from the Alibaba v2023 trace; see src/sim/routing/scenario.ts
 * for what is assumed). Every policy places the same pipelines on the same network; the router sees
 * RTTs predicted by Vivaldi coordinates trained on 16 peers per city, and completion is measured on
 * the measured RTTs. Prints, per policy, completion (mean, p95), money cost, objective and
 * jurisdiction violations; the market heuristic's gap to the exact optimum; and the RTT prediction
 * error of Vivaldi and of the built-in geographic model on pairs never probed.
 */
import { compilePipeline, type RoutingNetwork, violations } from "../src/core/routing/network.ts";
import { placePipeline } from "../src/core/routing/place-pipeline.ts";
import { buildProviderIndex, type Policy, policies } from "../src/core/routing/placement.ts";
import { SimRandom } from "../src/sim/random.ts";
import { completionMs, moneyCost } from "../src/sim/routing/outcome.ts";
import {
  buildProviders,
  defaultDataDir,
  generatePipeline,
  hostedJurisdictions,
  loadRealData,
  missingDataFiles,
} from "../src/sim/routing/scenario.ts";
import { evaluateVivaldi, quantile } from "../src/sim/routing/vivaldi-eval.ts";
import type { BenchLine, BenchSuite } from "./lib.ts";

const pipelines = Number(process.env["ROUTING_PIPELINES"] ?? 300);
const maxStages = 5;
const providerCount = 300;
const seed = 20200719;

export const routingSuite: BenchSuite = async (log) => {
  const missing = missingDataFiles(defaultDataDir);
  if (missing.length > 0) {
    console.error(`routing: skipped — the real data is absent (${missing[0]}); nothing was measured`);
    return;
  }
  const line = (metric: string, value: number, unit: string, labels: Record<string, string | number> = {}) =>
    log({ bench: "routing", metric, value: Math.round(value * 1e4) / 1e4, unit, ...labels } as BenchLine);
  const data = loadRealData(defaultDataDir);

  for (const peers of [8, 16]) {
    const ev = evaluateVivaldi(data.sites, data.measured, { peers, rounds: 200, seed });
    for (const [model, summary] of [
      ["vivaldi", ev.vivaldi],
      ["geo", ev.geo],
    ] as const) {
      for (const [q, v] of [
        ["0.5", summary.q50],
        ["0.9", summary.q90],
      ] as const) {
        line("rtt_prediction_rel_error", v, "ratio", {
          quantile: q,
          model,
          peers,
          held_out_pairs: ev.testPairs,
        });
      }
    }
  }
  const ev = evaluateVivaldi(data.sites, data.measured, { peers: 16, rounds: 200, seed });
  const measured = new Map(data.measured.map((m) => [m.a * 65536 + m.b, m.rttMs]));
  const trueRtt = (a: number, b: number) =>
    measured.get(a < b ? a * 65536 + b : b * 65536 + a) ?? ev.predict(a, b);
  const predicted = new Map<number, number>();
  const network: RoutingNetwork = {
    sites: data.sites,
    providers: buildProviders(data, providerCount, seed),
    rttMs: (a, b) => {
      const k = a < b ? a * 65536 + b : b * 65536 + a;
      let v = predicted.get(k);
      if (v === undefined) {
        v = Math.round(ev.predict(a, b) * 10) / 10;
        predicted.set(k, v);
      }
      return v;
    },
  };
  const index = buildProviderIndex(network);
  const hosted = hostedJurisdictions(data, network.providers);
  const random = new SimRandom(seed);
  const free = network.providers.map((p) => p.capacity - random.int(p.capacity));

  const results = new Map<
    Policy,
    { completion: number[]; cost: number[]; objective: number[]; violations: number }
  >(policies.map((p) => [p, { completion: [], cost: [], objective: [], violations: 0 }]));
  const unplaced = new Map<Policy, number>(policies.map((p) => [p, 0]));
  const gaps: number[] = [];
  let unproven = 0;
  let exactNodes = 0;
  const placeMs = new Map<Policy, number>(policies.map((p) => [p, 0]));
  for (let k = 0; k < pipelines; k++) {
    const c = compilePipeline(network, generatePipeline(data, random, maxStages, hosted));
    const placed = policies.map((policy) => {
      const t0 = performance.now();
      const r = placePipeline(c, index, policy, free, 50_000_000);
      placeMs.set(policy, placeMs.get(policy)! + performance.now() - t0);
      if (policy === "exact") {
        exactNodes += r.nodes ?? 0;
        if (r.ok && r.proven === false) unproven++;
      }
      if (!r.ok) unplaced.set(policy, unplaced.get(policy)! + 1);
      return r;
    });
    // Compare on the pipelines every policy could place (a jurisdiction rule can leave none).
    if (!placed.every((r) => r.ok)) continue;
    for (const r of placed) {
      if (!r.ok) continue;
      const acc = results.get(r.policy)!;
      acc.completion.push(completionMs(c, r.assignment, trueRtt) / 1000);
      acc.cost.push(moneyCost(c, r.assignment));
      acc.objective.push(r.objective);
      acc.violations += violations(c, r.assignment, (p) => free[p]!).filter(
        (v) => v.kind === "jurisdiction",
      ).length;
    }
    const market = placed[policies.indexOf("market")]!;
    const exact = placed[policies.indexOf("exact")]!;
    if (market.ok && exact.ok) gaps.push((market.objective - exact.objective) / exact.objective);
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const labelsBase = {
    pipelines: results.get("market")!.objective.length,
    providers: network.providers.length,
  };
  for (const policy of policies) {
    const r = results.get(policy)!;
    const labels = { policy, ...labelsBase };
    line("completion_s_mean", mean(r.completion), "s", labels);
    line(
      "completion_s_p95",
      quantile(
        [...r.completion].sort((x, y) => x - y),
        0.95,
      ),
      "s",
      labels,
    );
    line("cost_micro_mean", mean(r.cost), "micro-credits", labels);
    line("objective_mean", mean(r.objective), "micro-credits", labels);
    line("jurisdiction_violations", r.violations, "count", labels);
    line("unplaced", unplaced.get(policy)!, "pipelines", { policy, generated: pipelines });
    line("place_ms_mean", placeMs.get(policy)! / pipelines, "ms", { policy, generated: pipelines });
  }
  const marketObjective = mean(results.get("market")!.objective);
  for (const policy of policies) {
    if (policy === "market") continue;
    line("objective_ratio_vs_market", mean(results.get(policy)!.objective) / marketObjective, "ratio", {
      policy,
    });
  }
  line("optimality_gap", mean(gaps), "ratio", { ...labelsBase, statistic: "mean" });
  line("optimality_gap", Math.max(0, ...gaps), "ratio", { ...labelsBase, statistic: "max" });
  line("exact_unproven", unproven, "pipelines", labelsBase);
  line("exact_nodes_mean", exactNodes / pipelines, "nodes", labelsBase);
};
