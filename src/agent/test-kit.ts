/**
 * What tests that run real agents in one process share: agent options tuned for speed (a short
 * benchmark, quick reconnects and task polls, no RTT probing) and a node description. Used by the
 * canary, sealing and dispute tests; the coordinator side is src/coordinator/test-kit.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobView } from "../protocol/api.ts";
import type { Identity } from "../protocol/envelope.ts";
import { createWorkerPool, type WorkerPool } from "../runtime/pool.ts";
import { type Client, getJob } from "../sdk/index.ts";
import { type Provider, type ProviderNode, type StartProviderOptions, startProvider } from "./provider.ts";

/**
 * Options for a test agent on `coordinatorUrl`: staked 5 credits from the dev faucet, its data in
 * `dataDir`, sharing `pool`; `extra` overrides any of them.
 *
 * @example
 * await startProvider(testAgentOptions(url, identity, node, 100n, join(dir, node.name), pool));
 */
export function testAgentOptions(
  coordinatorUrl: string,
  identity: Identity,
  node: ProviderNode,
  pricePerUnitSecond: bigint,
  dataDir: string,
  pool: WorkerPool,
  extra: Partial<StartProviderOptions> = {},
): StartProviderOptions {
  return {
    coordinatorUrl,
    identity,
    node,
    pricePerUnitSecond,
    stake: 5_000_000n,
    dataDir,
    pool,
    devFaucet: true,
    benchmark: { minDurationMs: 30, warmupUnits: 2 },
    backoff: { initialDelayMs: 20, maxDelayMs: 200 },
    stopGraceMs: 2_000,
    taskPollMs: 50,
    rttProbe: false,
    ...extra,
  };
}

/** A two-unit node at degrees (lat, lon); `city` defaults to its name. */
export function testNode(
  name: string,
  resourceClass: string,
  place: { country: string; jurisdictions: string[]; lat: number; lon: number; city?: string },
): ProviderNode {
  return {
    name,
    city: place.city ?? name,
    country: place.country,
    jurisdictions: place.jurisdictions,
    latE6: Math.round(place.lat * 1e6),
    lonE6: Math.round(place.lon * 1e6),
    resourceClass,
    capacity: 2,
  };
}

/** Agents for one test file: a scratch directory, a shared one-worker pool, and the agents started. */
export interface TestAgents {
  readonly dir: string;
  readonly pool: WorkerPool;
  readonly agents: readonly Provider[];
  /** Start an agent on `coordinatorUrl` with {@link testAgentOptions}; its data goes under `dir`. */
  start(
    coordinatorUrl: string,
    identity: Identity,
    node: ProviderNode,
    pricePerUnitSecond: bigint,
    extra?: Partial<StartProviderOptions>,
  ): Promise<Provider>;
  /** Stop every agent, close the pool, delete the directory. */
  stop(): Promise<void>;
}

/**
 * A scratch directory and pool for the agents of one test file.
 *
 * @example
 * const kit = testAgents("sealing");
 * const fra = await kit.start(coordinator.url, testIdentity("fra"), node, 200n);
 * after(() => kit.stop());
 */
export function testAgents(prefix: string): TestAgents {
  const dir = mkdtempSync(join(tmpdir(), `switchyard-${prefix}-`));
  const pool = createWorkerPool({ size: 1 });
  const agents: Provider[] = [];
  return {
    dir,
    pool,
    agents,
    async start(coordinatorUrl, identity, node, price, extra = {}) {
      const p = await startProvider(
        testAgentOptions(coordinatorUrl, identity, node, price, join(dir, node.name), pool, extra),
      );
      agents.push(p);
      return p;
    },
    async stop() {
      await Promise.all(agents.map((a) => a.stop()));
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Polls the job until it finishes; fails the test with the stages' state if it has not within `ms`.
 *
 * @example const job = await finishedJob(client, jobId, 120_000);
 */
export async function finishedJob(client: Client, jobId: string, ms: number): Promise<JobView> {
  const deadline = Date.now() + ms;
  let job = await getJob(client, { id: jobId });
  while (job.status !== "finished") {
    assert.ok(Date.now() < deadline, `the job did not finish in ${ms} ms: ${JSON.stringify(job.stages)}`);
    await new Promise((r) => setTimeout(r, 100));
    job = await getJob(client, { id: jobId });
  }
  return job;
}
