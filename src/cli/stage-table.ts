/** How stages and their placement are shown to people. */
import type { JobView, NodeView } from "../protocol/api.ts";
import { formatCredits } from "../protocol/money.ts";
import { table } from "./table.ts";

type StageView = JobView["stages"][number];

const progress: Record<string, number> = {
  pending: 0,
  matched: 1,
  running: 2,
  committed: 3,
  accepted: 4,
  settled: 5,
  failed: 5,
  cancelled: 5,
};

/** A ten-cell bar for a stage's lifecycle position. */
export function stageBar(status: string): string {
  const filled = Math.round(((progress[status] ?? 0) / 5) * 10);
  return `[${"#".repeat(filled)}${"-".repeat(10 - filled)}]`;
}

export function nodeName(nodes: readonly NodeView[], key: string | undefined): string {
  if (key === undefined) return "-";
  const n = nodes.find((x) => x.id === key);
  return n === undefined ? `${key.slice(0, 10)}…` : `${n.name} (${n.city})`;
}

/** One line saying why a stage went where it did, or why it has not gone anywhere. */
export function placementWhy(stage: StageView, nodes: readonly NodeView[]): string {
  const excluded = (e: Record<string, number>) =>
    Object.entries(e)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(", ");
  if (stage.placement !== undefined) {
    const p = stage.placement;
    const risk = (ppm: number | undefined) =>
      ppm === undefined ? "" : ` (risk ${(ppm / 10_000).toFixed(1)}%)`;
    const chosen = p.cost === undefined ? "" : ` at effective cost ${costLine(p.cost)}`;
    const runner =
      p.runnerUp === undefined
        ? "no runner-up"
        : `runner-up ${nodeName(nodes, p.runnerUp.provider)}${risk(p.runnerUp.failurePpm)}${
            p.cost !== undefined && p.runnerUp.cost !== undefined
              ? ` cost ${p.runnerUp.cost.total} µ: ${costGap(p.cost, p.runnerUp.cost)}`
              : ` at ${p.runnerUp.price} µ`
          }`;
    const bounded =
      p.bounded === undefined
        ? ""
        : `; ${p.bounded} dearer offers not examined (price alone above the runner-up)`;
    const plan =
      p.planned === true && p.plan !== undefined
        ? `; planned jointly with the job's other stages (pipeline ${p.plan.total} µ${
            p.plan.greedyTotal === undefined ? "" : ` vs ${p.plan.greedyTotal} µ stage by stage`
          }${p.plan.exact ? ", optimal" : ""})`
        : p.planned === false
          ? "; its planned offer was taken, so ranked on its own"
          : "";
    const lead = p.planned === true ? "planned choice among" : "lowest effective cost of";
    return `${lead} ${p.eligible} eligible${risk(p.failurePpm)}${chosen}; excluded: ${excluded(p.excluded) || "none"}${bounded}${plan}; ${runner}`;
  }
  if (stage.noMatch !== undefined)
    return `no match among ${stage.noMatch.candidates} offers: ${excluded(stage.noMatch.excluded)}`;
  if (stage.status === "pending") {
    return stage.after.length > 0
      ? `waits for ${stage.after.join(", ")}`
      : "waiting for an offer (none posted yet)";
  }
  return "";
}

type Cost = NonNullable<NonNullable<StageView["placement"]>["cost"]>;
const terms = ["compute", "time", "delay", "risk", "verification"] as const;

/** "45900 µ = compute 36000 + time 6000 + …": an effective cost with its nonzero terms. */
export function costLine(c: Cost): string {
  const parts = terms.filter((t) => c[t] !== 0).map((t) => `${t} ${c[t]}`);
  return `${c.total} µ = ${parts.join(" + ") || "0"}`;
}

/** What separated the runner-up: each term where it was dearer (+) or cheaper (−). */
export function costGap(chosen: Cost, runnerUp: Cost): string {
  const gaps = terms
    .map((t) => [t, runnerUp[t] - chosen[t]] as const)
    .filter(([, d]) => d !== 0)
    .map(([t, d]) => `${d > 0 ? "+" : "−"}${Math.abs(d)} ${t}`);
  return gaps.join(", ") || "tied, lower offer id won";
}

export function stagesTable(job: JobView, nodes: readonly NodeView[]): string {
  return table(
    ["stage", "progress", "status", "provider", "price µ/u·s", "paid", "root"],
    job.stages.map((s) => [
      s.name,
      stageBar(s.status),
      s.status,
      nodeName(nodes, s.provider),
      s.pricePerUnitSecond ?? "-",
      s.paid === undefined ? "-" : formatCredits(BigInt(s.paid)),
      s.root === undefined ? "-" : `${s.root.slice(0, 12)}…`,
    ]),
  );
}
