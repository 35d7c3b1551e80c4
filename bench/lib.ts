/**
 * Shared benchmark plumbing. Every suite returns BenchLine objects; the runner prints each as one
 * JSON line (DESIGN.md §6) and appends them, stamped with the commit id, to
 * bench/results/<suite>.jsonl. Suites compare against a baseline measured in the same run, because a
 * ratio survives a noisy machine and an absolute time does not.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { quantile } from "../src/sim/routing/vivaldi-eval.ts";

export interface BenchLine {
  readonly bench: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly [label: string]: string | number | boolean;
}

export type BenchSuite = (log: (line: BenchLine) => void) => Promise<void>;

function commitId(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** Run one suite: print each line as it arrives and append it to bench/results/<suite>.jsonl. */
export async function runSuite(name: string, suite: BenchSuite): Promise<BenchLine[]> {
  const dir = join(import.meta.dirname, "results");
  mkdirSync(dir, { recursive: true });
  const commit = commitId();
  const at = new Date().toISOString();
  const lines: BenchLine[] = [];
  await suite((line) => {
    lines.push(line);
    console.log(JSON.stringify(line));
    appendFileSync(join(dir, `${name}.jsonl`), `${JSON.stringify({ ...line, commit, at })}\n`);
  });
  return lines;
}

/** Operations per second of `fn` run `n` times, after `warmup` untimed runs. */
export function opsPerSecond(n: number, fn: (i: number) => void, warmup = Math.min(n, 1000)): number {
  for (let i = 0; i < warmup; i++) fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0);
  return (n * 1e9) / ns;
}

/**
 * Logs decisions_per_s, p50_ms and p99_ms of one run (`times` in ms, from `start`) under `labels`;
 * returns the logger for any further line of the same run.
 */
export function decisionLines(
  log: (line: BenchLine) => void,
  labels: Record<string, string | number>,
  times: number[],
  start: number,
): (metric: string, value: number, unit: string) => void {
  const seconds = (performance.now() - start) / 1000;
  const line = (metric: string, value: number, unit: string) =>
    log({ bench: "market", metric, value: Math.round(value * 1000) / 1000, unit, ...labels } as BenchLine);
  const sorted = [...times].sort((x, y) => x - y);
  line("decisions_per_s", times.length / seconds, "1/s");
  line("p50_ms", quantile(sorted, 0.5), "ms");
  line("p99_ms", quantile(sorted, 0.99), "ms");
  return line;
}
