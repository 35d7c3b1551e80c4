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
    const runner =
      p.runnerUp === undefined
        ? "no runner-up"
        : `runner-up ${nodeName(nodes, p.runnerUp.provider)} at ${p.runnerUp.price} µ${risk(p.runnerUp.failurePpm)}`;
    return `cheapest of ${p.eligible} eligible after risk${risk(p.failurePpm)}; excluded: ${excluded(p.excluded) || "none"}; ${runner}`;
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
