import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Child, spawnCli, stopChild } from "../src/cli/processes.ts";

const root = resolve(import.meta.dirname, "..");

/** Run one CLI command to completion (asynchronously: the coordinator child keeps serving). */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("the switchyard command against a real coordinator", () => {
  let dir: string;
  let coordinator: Child;
  let env: Record<string, string>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "switchyard-cli-"));
    coordinator = await spawnCli(
      "coordinator",
      [
        "coordinator",
        "--data-dir",
        join(dir, "coordinator"),
        "--port",
        "0",
        "--dev-faucet",
        "--log-level",
        "warn",
      ],
      join(dir, "logs"),
    );
    env = {
      SWITCHYARD_COORDINATOR: String(coordinator.ready["url"]),
      SWITCHYARD_KEY: join(dir, "keys", "me.json"),
    };
  });
  after(async () => {
    if (coordinator !== undefined) await stopChild(coordinator);
    rmSync(dir, { recursive: true, force: true });
  });

  test("keygen writes an owner-only key file and refuses to overwrite it without --force", async () => {
    const made = await cli(["keygen", "--json"], env);
    assert.equal(made.code, 0, made.stderr);
    assert.match(JSON.parse(made.stdout).publicKey, /^[0-9a-f]{64}$/);
    assert.equal(statSync(env["SWITCHYARD_KEY"]!).mode & 0o777, 0o600);
    const again = await cli(["keygen"], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /--force/);
  });

  test("faucet, balance, submit, jobs, nodes and market speak JSON and agree with each other", async () => {
    assert.equal((await cli(["faucet", "25000000"], env)).code, 0);
    const balance = JSON.parse((await cli(["balance", "--json"], env)).stdout);
    assert.equal(balance.available, "25000000");
    const submitted = await cli(["submit", "examples/seed-pipeline.yaml", "--json"], env);
    assert.equal(submitted.code, 0, submitted.stderr);
    const { jobId } = JSON.parse(submitted.stdout);
    const job = JSON.parse((await cli(["jobs", jobId, "--json"], env)).stdout);
    assert.equal(job.id, jobId);
    assert.deepEqual(
      job.stages.map((s: { name: string; status: string }) => s.status),
      ["pending", "pending", "pending", "pending"],
      "no providers yet",
    );
    const after = JSON.parse((await cli(["balance", "--json"], env)).stdout);
    assert.equal(BigInt(after.available), 25_000_000n - BigInt(job.budget), "the budget is locked in escrow");
    assert.deepEqual(JSON.parse((await cli(["nodes", "--json"], env)).stdout), []);
    assert.deepEqual(JSON.parse((await cli(["market", "--json"], env)).stdout), {
      classes: [],
      priceIndex: [],
    });
  });

  test("error: a spec that does not fit the schema exits 1 naming the path, and nothing is submitted", async () => {
    const before = JSON.parse((await cli(["balance", "--json"], env)).stdout);
    const bad = await cli(["submit", "package.json"], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /MALFORMED/);
    const after = JSON.parse((await cli(["balance", "--json"], env)).stdout);
    assert.equal(after.nonce, before.nonce);
  });

  test("error: a sealed spec without --watch exits 1 (nobody would release its keys), and nothing is submitted", async () => {
    const before = JSON.parse((await cli(["balance", "--json"], env)).stdout);
    const spec = join(dir, "sealed.yaml");
    writeFileSync(spec, `${readFileSync(join(root, "examples/seed-pipeline.yaml"), "utf8")}\nsealed: true\n`);
    const bad = await cli(["submit", spec], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /MALFORMED.*--watch/);
    const after = JSON.parse((await cli(["balance", "--json"], env)).stdout);
    assert.equal(after.nonce, before.nonce);
  });

  test("error: an unreachable coordinator exits 1 with UNREACHABLE and the URL", async () => {
    const out = await cli(["nodes"], { ...env, SWITCHYARD_COORDINATOR: "http://127.0.0.1:9" });
    assert.equal(out.code, 1);
    assert.match(out.stderr, /UNREACHABLE.*127\.0\.0\.1:9/);
  });

  test("audit replays the coordinator's stored log after it stops", async () => {
    await stopChild(coordinator);
    const report = await cli(["audit", "--store", join(dir, "coordinator", "log"), "--json"], env);
    assert.equal(report.code, 0, report.stdout + report.stderr);
    const parsed = JSON.parse(report.stdout);
    assert.equal(parsed.ok, true);
    assert.ok(parsed.signatures >= 2);
  });
});
