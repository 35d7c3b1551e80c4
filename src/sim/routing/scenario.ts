/**
 * Routing scenarios built from the real data in ../shared/data (read, never copied; see its README
 * for sources and licences):
 *
 * - sites: the WonderProxy cities present in the measured pings (a subset of their servers), with
 *   their country as jurisdiction (+ "EU" for members); measured `min` RTT between them;
 * - GPU providers: the Vast.ai offers of the SkyPilot catalogue, each placed in the measured cities
 *   of its country, at its price per GPU-hour (±10 %), in as many copies as `providersPerOffer`;
 *   GPUs per provider drawn from the Alibaba v2023 node list (`gpu` column);
 * - throughput: Epoch AI's dense Tensor-FP16/BF16 FLOP/s of the offer's chip over the A100's;
 * - pipelines: GPU counts and lifetimes of Alibaba v2023 pods (`num_gpu`, deletion − creation) as
 *   stage units and A100-seconds of work.
 *
 * Assumptions the data does not give, stated here and in docs/routing.md: data bytes between stages
 * (log-uniform 100 MB–20 GB), site uplinks (0.25, 1 or 4 Gbit/s), queueing (0–60 s), failure rates
 * (a reputation-like mix: 90 % of providers 0.5–3 %, 10 % 10–30 %), the requester's value of time
 * (US$0.5, 2 or 10 per hour) and which stages carry a jurisdiction rule (30 %).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Pipeline, PipelineStage, Provider, Site } from "../../core/routing/network.ts";
import type { GeoPoint } from "../../protocol/geo.ts";
import { SimRandom } from "../random.ts";

export const defaultDataDir = resolve(import.meta.dirname, "../../../../shared/data");

const files = {
  servers: "latency/wonderproxy-2020-07-19/servers-2020-07-19.csv",
  pings: "latency/wonderproxy-2020-07-19/pings-2020-07-19-2020-07-20-grouped.csv",
  prices: "prices/vast-via-skypilot-catalog/vms.csv",
  hardware: "hardware/epoch-ml-hardware/ml_hardware.csv",
  pods: "traces/alibaba-gpu-v2023/openb_pod_list_default.csv",
  nodes: "traces/alibaba-gpu-v2023/openb_node_list_gpu_node.csv",
} as const;

/** The data files that are missing under `dir` (empty when the scenario can be built). */
export function missingDataFiles(dir: string = defaultDataDir): string[] {
  return Object.values(files)
    .map((f) => join(dir, f))
    .filter((f) => !existsSync(f));
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): Array<Record<string, string>> {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      if (row.some((c) => c !== "")) rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  row.push(cell);
  if (row.some((c) => c !== "")) rows.push(row);
  const header = rows[0] ?? [];
  return rows.slice(1).map((r) => Object.fromEntries(header.map((h, k) => [h, r[k] ?? ""])));
}

const euCountries = new Set(
  (
    "Austria Belgium Bulgaria Croatia Cyprus Czech_Republic Denmark Estonia Finland France Germany " +
    "Greece Hungary Ireland Italy Latvia Lithuania Luxembourg Malta Netherlands Poland Portugal " +
    "Romania Slovakia Slovenia Spain Sweden"
  )
    .split(" ")
    .map((c) => c.replace("_", " ")),
);

/** ISO codes of the Vast catalogue's countries → the country names of the WonderProxy servers file. */
const countryByIso: Record<string, string> = {
  US: "United States",
  CA: "Canada",
  DE: "Germany",
  SI: "Slovenia",
  FR: "France",
  TW: "Taiwan",
  TH: "Thailand",
  NL: "Netherlands",
  CN: "China",
  HK: "Hong Kong",
  NO: "Norway",
  BE: "Belgium",
  RO: "Romania",
  CZ: "Czech Republic",
  HU: "Hungary",
  IT: "Italy",
  RU: "Russia",
  ES: "Spain",
  PL: "Poland",
  EE: "Estonia",
  IS: "Iceland",
  PT: "Portugal",
};

/**
 * A site's jurisdictions as the protocol spells them (ISO alpha-2 codes, and "EU"), for the
 * catalogue's countries; names without a code are left out.
 *
 * @example isoJurisdictions(["Czech Republic", "EU"]) // ["CZ", "EU"]
 */
export function isoJurisdictions(names: readonly string[]): string[] {
  const iso = new Map(Object.entries(countryByIso).map(([code, name]) => [name, code]));
  return names.flatMap((n) => (n === "EU" ? ["EU"] : iso.has(n) ? [iso.get(n)!] : []));
}

/** Vast accelerator name → Epoch AI hardware name whose Tensor-FP16/BF16 figure we use. */
const epochChip: Record<string, string> = {
  H100: "NVIDIA H100 SXM5 80GB",
  H200: "NVIDIA H200 SXM",
  A100: "NVIDIA A100 SXM4 80 GB",
  RTX4090: "NVIDIA GeForce RTX 4090",
  RTX3090: "NVIDIA GeForce RTX 3090 Ti",
};

export interface RealData {
  readonly sites: ReadonlyArray<Site & GeoPoint & { readonly country: string }>;
  /** Measured min RTT between site indices (undirected, lower of both directions). */
  readonly measured: ReadonlyArray<{ readonly a: number; readonly b: number; readonly rttMs: number }>;
  readonly offers: ReadonlyArray<{
    readonly model: string;
    readonly country: string;
    readonly usdPerGpuHour: number;
    readonly throughput: number;
  }>;
  /** GPUs per node in the Alibaba cluster. */
  readonly gpusPerNode: readonly number[];
  /** Alibaba GPU pods: GPUs and lifetime in s. */
  readonly pods: ReadonlyArray<{ readonly gpus: number; readonly seconds: number }>;
}

/** Reads every file the scenario needs. @throws Error naming the first missing file. */
export function loadRealData(dir: string = defaultDataDir, uplinkSeed = 7): RealData {
  const missing = missingDataFiles(dir);
  if (missing.length > 0) throw new Error(`routing data not found: ${missing.join(", ")}`);
  const read = (f: string) => parseCsv(readFileSync(join(dir, f), "utf8"));
  const servers = new Map<number, { country: string; title: string; latE6: number; lonE6: number }>();
  for (const r of read(files.servers)) {
    const lat = Number(r["latitude"]);
    const lon = Number(r["longitude"]);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || r["id"] === "") continue;
    servers.set(Number(r["id"]), {
      country: r["country"] ?? "",
      title: r["title"] ?? "",
      latE6: Math.round(lat * 1e6),
      lonE6: Math.round(lon * 1e6),
    });
  }
  const best = new Map<string, { a: number; b: number; rtt: number }>();
  for (const r of read(files.pings)) {
    const s = Number(r["source"]);
    const d = Number(r["destination"]);
    if (s === d || !servers.has(s) || !servers.has(d)) continue;
    const [a, b] = s < d ? [s, d] : [d, s];
    const min = Number(r["min"]);
    const key = `${a},${b}`;
    const prev = best.get(key);
    if (min > 0 && (prev === undefined || min < prev.rtt)) best.set(key, { a, b, rtt: min });
  }
  const ids = [...new Set([...best.values()].flatMap((p) => [p.a, p.b]))].sort((x, y) => x - y);
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const random = new SimRandom(uplinkSeed);
  const sites = ids.map((id) => {
    const s = servers.get(id)!;
    return {
      name: s.title,
      country: s.country,
      jurisdictions: euCountries.has(s.country) ? [s.country, "EU"] : [s.country],
      // 0.25, 1 or 4 Gbit/s, in bytes per second
      bandwidthBytesPerSecond: [31_250_000, 125_000_000, 500_000_000][random.int(3)]!,
      latE6: s.latE6,
      lonE6: s.lonE6,
    };
  });
  const measured = [...best.values()]
    .map((p) => ({ a: indexOf.get(p.a)!, b: indexOf.get(p.b)!, rttMs: p.rtt }))
    .sort((x, y) => x.a - y.a || x.b - y.b);

  const tensor = new Map(
    read(files.hardware).map((r) => [
      r["Hardware name"] ?? "",
      Number(r["Tensor-FP16/BF16 performance (FLOP/s)"]),
    ]),
  );
  const a100 = tensor.get(epochChip["A100"]!)!;
  const offers = read(files.prices).flatMap((r) => {
    const model = r["AcceleratorName"] ?? "";
    const chip = epochChip[model];
    const country = countryByIso[(r["Region"] ?? "").split(", ")[1] ?? ""];
    const flops = chip === undefined ? Number.NaN : (tensor.get(chip) ?? Number.NaN);
    const count = Number(r["AcceleratorCount"]);
    if (country === undefined || !(flops > 0) || !(count > 0)) return [];
    return [{ model, country, usdPerGpuHour: Number(r["Price"]) / count, throughput: flops / a100 }];
  });
  const gpusPerNode = read(files.nodes)
    .map((r) => Number(r["gpu"]))
    .filter((g) => g > 0);
  const pods = read(files.pods).flatMap((r) => {
    const gpus = Number(r["num_gpu"]);
    const seconds = Number(r["deletion_time"]) - Number(r["creation_time"]);
    return gpus > 0 && seconds > 0 ? [{ gpus, seconds }] : [];
  });
  return { sites, measured, offers, gpusPerNode, pods };
}

/** micro-credits per unit-second from US$ per hour (1 credit = US$1 in these scenarios). */
export function microPerSecond(usdPerHour: number): number {
  return Math.max(1, Math.round((usdPerHour * 1e6) / 3600));
}

/** Jurisdictions that hold at some provider's site. */
export function hostedJurisdictions(data: RealData, providers: readonly Provider[]): Set<string> {
  return new Set(providers.flatMap((p) => data.sites[p.site]!.jurisdictions));
}

/**
 * `count` GPU providers in the measured cities of the offers' countries, cycling through the offers
 * (each copy with its own site in the country, price ±10 %, throughput ±10 %, capacity, queue and
 * failure rate).
 */
export function buildProviders(data: RealData, count: number, seed: number): Provider[] {
  const random = new SimRandom(seed);
  const sitesOf = new Map<string, number[]>();
  data.sites.forEach((s, i) => {
    sitesOf.set(s.country, [...(sitesOf.get(s.country) ?? []), i]);
  });
  const providers: Provider[] = [];
  const offers = data.offers.filter((o) => sitesOf.has(o.country));
  if (offers.length === 0) return providers;
  for (let k = 0; providers.length < count; k++) {
    const offer = offers[k % offers.length]!;
    const sites = sitesOf.get(offer.country)!;
    const bad = random.chance(0.1);
    providers.push({
      id: providers.length,
      site: random.pick(sites),
      resourceClass: "gpu",
      capacity: random.pick(data.gpusPerNode),
      pricePerUnitSecond: microPerSecond(offer.usdPerGpuHour * (0.9 + random.int(201) / 1000)),
      throughput: Math.round(offer.throughput * (0.9 + random.int(201) / 1000) * 1000) / 1000,
      queueMs: random.int(60_001),
      failureBps: bad ? 1_000 + random.int(2_001) : 50 + random.int(251),
    });
  }
  return providers;
}

/**
 * A pipeline of 2–`maxStages` GPU stages: a chain, sometimes with a side branch and an optimizer
 * loop, units and work from Alibaba pods, data sizes log-uniform, 30 % of stages bound to the
 * requester's jurisdiction (EU for an EU requester, else its country) when that jurisdiction hosts
 * GPUs at all (`hosted`: the jurisdictions of sites with providers).
 */
export function generatePipeline(
  data: RealData,
  random: SimRandom,
  maxStages: number,
  hosted: ReadonlySet<string>,
): Pipeline {
  const home = random.int(data.sites.length);
  const source = random.chance(0.7) ? home : random.int(data.sites.length);
  const homeSite = data.sites[home]!;
  const bloc = homeSite.jurisdictions.includes("EU") ? "EU" : homeSite.country;
  // Only requesters whose own jurisdiction hosts GPUs carry a rule: elsewhere it could never be met.
  const rule = hosted.has(bloc) ? bloc : null;
  const n = 2 + random.int(maxStages - 1);
  const bytes = () => Math.round(1e8 * 200 ** (random.int(1001) / 1000));
  const stages: PipelineStage[] = [];
  for (let i = 0; i < n; i++) {
    const pod = random.pick(data.pods);
    const from = i === 0 ? null : random.chance(0.8) ? `s${i - 1}` : `s${random.int(i)}`;
    const loop = i > 0 && random.chance(0.2) ? { with: `s${i - 1}`, iterations: 10 + random.int(191) } : null;
    stages.push({
      name: `s${i}`,
      resourceClass: "gpu",
      units: Math.min(pod.gpus, 2),
      work: Math.min(pod.seconds, 4 * 3600),
      inputs: [{ from, bytes: bytes() }],
      ...(rule !== null && random.chance(0.3) ? { jurisdictions: [rule] } : {}),
      ...(loop === null ? {} : { loop }),
      verificationBps: 1_000,
    });
  }
  const vot = [0.5, 2, 10][random.int(3)]!;
  return { stages, sourceSite: source, homeSite: home, valueOfTimePerSecond: microPerSecond(vot) };
}
