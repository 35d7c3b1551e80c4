/**
 * `npm run bench -- market` (second half): placement decisions of the LIVE matcher — the state
 * machine's `apply` of a one-stage `submitJob`, which validates the job, locks its escrow, ranks
 * every eligible offer by effective cost (RTT from the nodes' positions, reputation risk, expected
 * verifier fee) and places the stage with its explanation — at 1,000 and 10,000 registered
 * providers built from the same real data as the heuristic's half (100,000 with
 * MARKET_LIVE_100K=1: registering them takes minutes). Baseline in the same run: the same
 * submissions to the same nodes with no offer in the book (validation, escrow and the no-match
 * explanation, without ranking), so the difference is what ranking costs.
 */
import { apply, createState } from "../src/core/index.ts";
import { genesisPrev, type LogEvent } from "../src/protocol/log.ts";
import type { StageSpec } from "../src/protocol/messages.ts";
import { defaultParams } from "../src/protocol/params.ts";
import { LocalNetwork, simIdentity } from "../src/sim/local-network.ts";
import { SimRandom } from "../src/sim/random.ts";
import { buildProviders, isoJurisdictions, type RealData } from "../src/sim/routing/scenario.ts";
import { type BenchSuite, decisionLines } from "./lib.ts";

const liveDecisions = Number(process.env["MARKET_LIVE_DECISIONS"] ?? 2_000);

/** Lines for the live matcher at each size. */
export async function liveMatcher(log: Parameters<BenchSuite>[0], data: RealData): Promise<void> {
  const sizes = process.env["MARKET_LIVE_100K"] === "1" ? [1_000, 10_000, 100_000] : [1_000, 10_000];
  for (const count of sizes) {
    const signer = new LocalNetwork({ net: "bench", verifySignatures: false });
    const setup = onboardingEvents(signer, data, count);
    const requester = simIdentity("live-bench-requester");
    // Each job locks its budget until it settles, which never happens here: fund all of them.
    const budget = 500_000_000n;
    for (let funded = 0n; funded < budget * BigInt(liveDecisions); funded += 10n ** 12n) {
      setup.push(signer.sign(requester, "faucet", { amount: 10n ** 12n }));
    }
    const random = new SimRandom(11);
    const hosted = [
      ...new Set(setup.flatMap((e) => (e.type === "registerNode" ? (e.body.jurisdictions as string[]) : []))),
    ].sort();
    const jobs = Array.from({ length: liveDecisions }, (_, k) =>
      signer.sign(requester, "submitJob", {
        budget,
        stages: [stageFor(data, hosted, random, k)],
      }),
    );
    for (const variant of ["ranked", "no-offers"] as const) {
      const state = createState();
      let seq = 0;
      const step = (env: ReturnType<LocalNetwork["sign"]>) => {
        const r = apply(state, eventOf(env, seq++));
        if (!r.ok) throw r.error;
        return r;
      };
      apply(state, genesis(seq++));
      // The baseline's network has the same nodes and stake, but nobody posted an offer.
      for (const env of setup) if (variant === "ranked" || env.type !== "postOffer") step(env);
      const times: number[] = [];
      let placed = 0;
      const start = performance.now();
      for (const env of jobs) {
        const t = performance.now();
        const r = step(env);
        times.push(performance.now() - t);
        if (r.effects.some((e) => e.type === "assign")) placed++;
      }
      const placer = variant === "ranked" ? "live" : "live-no-offers";
      decisionLines(log, { providers: count, placer, decisions: jobs.length, placed }, times, start);
    }
  }
}

/** faucet, registerNode, bond and postOffer for `count` gpu providers of the real-data catalogue. */
function onboardingEvents(
  signer: LocalNetwork,
  data: RealData,
  count: number,
): Array<ReturnType<LocalNetwork["sign"]>> {
  const out: Array<ReturnType<LocalNetwork["sign"]>> = [];
  for (const p of buildProviders(data, count, 42)) {
    const who = simIdentity(`live-bench-${p.id}`);
    const site = data.sites[p.site]!;
    const jurisdictions = isoJurisdictions(site.jurisdictions);
    out.push(signer.sign(who, "faucet", { amount: 100_000_000n }));
    out.push(
      signer.sign(who, "registerNode", {
        name: `p${p.id}`,
        city: site.name.slice(0, 64),
        country: jurisdictions[0]!,
        jurisdictions,
        latE6: site.latE6,
        lonE6: site.lonE6,
        resourceClass: "gpu",
        // Capacity to spare: the bench measures ranking, not a book that fills up.
        capacity: 1_000_000,
        throughput: Math.max(1, Math.round(p.throughput * 1000)),
      }),
    );
    out.push(signer.sign(who, "bond", { amount: 50_000_000n }));
    out.push(
      signer.sign(who, "postOffer", {
        resourceClass: "gpu",
        capacity: 1_000_000,
        pricePerUnitSecond: BigInt(Math.max(1, p.pricePerUnitSecond)),
      }),
    );
  }
  return out;
}

/** One gpu stage; 30 % bound to a jurisdiction that hosts providers, 30 % spot-checked. */
function stageFor(data: RealData, hosted: readonly string[], random: SimRandom, k: number): StageSpec {
  return {
    name: "s",
    program: "mlp-train",
    params: { seed: k },
    resourceClass: "gpu",
    units: random.pick(data.gpusPerNode),
    seconds: 60 + random.int(3_600),
    // Above every catalogue price (US$36/GPU-hour): price never excludes, so every offer is ranked.
    maxPricePerUnitSecond: 10_000n,
    after: [],
    inputs: [],
    verification: random.chance(0.3) ? "spot" : "none",
    ...(random.chance(0.3) ? { jurisdictions: [random.pick(hosted)] } : {}),
  };
}

function genesis(seq: number): LogEvent {
  return {
    seq,
    time: 1,
    prev: genesisPrev,
    payload: { kind: "sys", sys: { type: "genesis", net: "bench", params: defaultParams, devFaucet: true } },
  };
}

function eventOf(env: ReturnType<LocalNetwork["sign"]>, seq: number): LogEvent {
  return { seq, time: 1 + seq, prev: genesisPrev, payload: { kind: "msg", env } };
}
