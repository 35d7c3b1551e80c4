/**
 * Child processes of a local network. Each child is this same CLI (`switchyard coordinator` or
 * `switchyard provider`) started with `--ready-json`: when it is serving, it prints one line
 * `{"ready":true,...}` on stdout, and the parent reads it instead of guessing ports or sleeping.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { SwitchyardError } from "../protocol/errors.ts";

const mainScript = resolve(import.meta.dirname, "main.ts");

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** The fields of its ready line (e.g. `url`). */
  readonly ready: Readonly<Record<string, unknown>>;
  readonly logFile: string;
  /** Lines the child printed with an `event` or `stats` field after it was ready, in order. */
  readonly reports: Array<Record<string, unknown>>;
}

/**
 * Start `switchyard <args>` and wait for its ready line. Its stderr goes to `<logDir>/<name>.log`.
 * Rejects with the tail of that log if the child exits or stays silent for `timeoutMs`.
 */
export function spawnCli(
  name: string,
  args: readonly string[],
  logDir: string,
  timeoutMs = 60_000,
): Promise<Child> {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, ["--import", "tsx", mainScript, ...args, "--ready-json"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  child.stderr?.pipe(log);
  const reports: Array<Record<string, unknown>> = [];
  return new Promise((resolveChild, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new SwitchyardError(
          "STORE_UNAVAILABLE",
          `${name} did not become ready within ${timeoutMs} ms; see ${logFile}`,
        ),
      );
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      log.write(`[stdout] ${line}\n`);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed["ready"] === true) {
          clearTimeout(timer);
          resolveChild({ name, process: child, ready: parsed, logFile, reports });
        } else if ("event" in parsed || "stats" in parsed) reports.push(parsed);
      } catch {
        // Not the ready line: keep it in the log only.
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      // The child's last words say why; put them in the error so CI output shows them.
      log.end(() => {
        const tail = readFileSync(logFile, "utf8").trim().split("\n").slice(-8).join("\n");
        const why = `${name} exited (${signal ?? code}) before it was ready; its log ${logFile} ends:\n${tail}`;
        reject(new SwitchyardError("STORE_UNAVAILABLE", why));
      });
    });
  });
}

/** Stop a child: SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  const p = child.process;
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((done) => p.once("exit", () => done()));
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
