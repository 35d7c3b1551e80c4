/**
 * The provider agent (DESIGN.md §1, §5 `switchyard provider`): it measures itself, joins the market
 * (register, fund on a dev network, bond, offer), serves its outputs to the next stage, and works
 * through its assignments — start, fetch inputs, run in the worker pool, store, commit — including
 * both halves of the QAOA loop over HTTP with its partner agent.
 *
 * It survives a coordinator restart without losing or repeating work. The assignment stream
 * reconnects with backoff and every reconnect re-delivers the open assignments (catch-up GET); a
 * local journal per (job, stage) says what was already done, so a started stage is not started
 * twice, a computed result is committed again rather than recomputed, and a commit the coordinator
 * already holds is recognized from the job view and not sent again. See docs/agent.md.
 */
import { join } from "node:path";
import { Hono } from "hono";
import { WebSocket } from "ws";
import type { Assignment, JobView } from "../protocol/api.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Identity } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { Cid, PublicKeyHex } from "../protocol/ids.ts";
import { createWorkerPool, defaultPoolSize, type WorkerPool } from "../runtime/pool.ts";
import type { MaxCutGraph, QaoaAngles } from "../runtime/programs/qaoa-maxcut.ts";
import { createClient, type FetchLike, type WebSocketConstructorLike } from "../sdk/create-client.ts";
import {
  type Backoff,
  getAssignments,
  getJob,
  getNodes,
  isUnreachable,
  type StreamStatus,
  signAndSubmit,
  subscribeAssignments,
} from "../sdk/index.ts";
import { filesystemBlobStore } from "../store/filesystem-blob-store.ts";
import { type BenchmarkOptions, runStandardBenchmark } from "./benchmark.ts";
import type { FetchBlobResult } from "./blob-fetch.ts";
import { blobRoutes } from "./blob-server.ts";
import { type AgentHttpServer, serveApp } from "./http.ts";
import { openStageJournal, planStage, type StageJournal, type StageResult } from "./journal.ts";
import { type OnboardReport, onboard, type ProviderNode } from "./onboard.ts";
import { loopOf, qpuLoopHost, runOptimizerLoop } from "./qaoa-loop.ts";
import { runStage } from "./stage-work.ts";

export type { ProviderNode } from "./onboard.ts";

export interface StartProviderOptions {
  /** The coordinator's base URL. */
  readonly coordinatorUrl: string;
  /** The provider's identity (`loadIdentity(path)` from the keystore); its public key is the node id. */
  readonly identity: Identity;
  readonly node: ProviderNode;
  /** Asking price in micro-credits per unit-second. */
  readonly pricePerUnitSecond: bigint;
  /** Capacity of the offer (default the node's capacity). */
  readonly offerCapacity?: number;
  /** Bonded stake to hold, in micro-credits; bonded up to this at start. */
  readonly stake: bigint;
  /** Directory for the agent's blobs (`<dataDir>/blobs`) and journal (`<dataDir>/journal`). */
  readonly dataDir: string;
  /** Worker threads for programs (default min(capacity, cores − 1)). Ignored when `pool` is given. */
  readonly poolSize?: number;
  /** A worker pool to share (tests, several agents in one process); the agent does not close it. */
  readonly pool?: WorkerPool;
  /** On a dev network, take what the bond needs from the faucet (default false). */
  readonly devFaucet?: boolean;
  /** Credits requested from the faucet beyond the bond (default 10 credits). */
  readonly faucetMargin?: bigint;
  /**
   * Every HTTP request of the agent — to the coordinator, to other agents for blobs and loop
   * rounds — goes through this. The CLI passes `withEmulatedLatency(fetch, here, pointOf)`.
   */
  readonly fetch?: FetchLike;
  /** Default the `ws` package's client. */
  readonly WebSocket?: WebSocketConstructorLike;
  /** Interface for the agent's HTTP server (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default: the port of the endpoint this node registered earlier, else any free port). */
  readonly port?: number;
  /** The URL other agents reach this one at (default `http://host:port`). */
  readonly publicUrl?: string;
  /** Checkpoint every k steps (default 4, as the in-process pipeline). */
  readonly checkpointEvery?: number;
  readonly benchmark?: BenchmarkOptions;
  /** Chunk size of served blobs (default 256 KiB). */
  readonly blobChunkSize?: number;
  /** Blob requests served at once (default 32). */
  readonly maxBlobRequests?: number;
  /** Reconnect backoff of the assignment stream. */
  readonly backoff?: Backoff;
  /** How long `stop()` waits for work in progress before cutting it off (default 10 s). */
  readonly stopGraceMs?: number;
  /** Progress and problems, for logs and the CLI. */
  readonly onEvent?: (event: ProviderEvent) => void;
}

export type ProviderEvent =
  | { readonly type: "ready"; readonly endpoint: string; readonly onboarding: OnboardReport }
  | { readonly type: "connection"; readonly status: StreamStatus }
  | {
      readonly type: "assignment";
      readonly assignment: Assignment;
      readonly plan: "start" | "compute" | "recommit";
    }
  | {
      readonly type: "input";
      readonly jobId: string;
      readonly stage: string;
      readonly cid: Cid;
      /** True when the blob was already in this agent's store. */
      readonly local: boolean;
      /** How it moved, when it was fetched: from which agent, how many bytes, requests and ms. */
      readonly transfer?: InputTransfer;
    }
  | {
      readonly type: "computed";
      readonly jobId: string;
      readonly stage: string;
      readonly result: StageResult;
      readonly ms: number;
    }
  | {
      readonly type: "loop";
      readonly jobId: string;
      readonly stage: string;
      readonly role: "qpu" | "optimizer";
      readonly rounds: number;
      readonly roundTrips?: number;
      readonly loopMs?: number;
    }
  | {
      readonly type: "committed";
      readonly jobId: string;
      readonly stage: string;
      readonly seq?: number;
      readonly already?: boolean;
    }
  | { readonly type: "abandoned"; readonly jobId: string; readonly stage: string; readonly reason: string }
  | {
      readonly type: "error";
      readonly jobId?: string;
      readonly stage?: string;
      readonly error: SwitchyardError;
    };

export type InputTransfer = Omit<FetchBlobResult, "bytes" | "cid"> & { readonly size: number };

export interface ProviderStats {
  readonly assignments: number;
  readonly computed: number;
  readonly committed: number;
  /** Commits sent again after a restart (the result was reused, not recomputed). */
  readonly recommitted: number;
  readonly bytesFetched: number;
  readonly bytesServed: number;
  readonly loopRounds: number;
  readonly loopRoundTrips: number;
  readonly loopMs: number;
  readonly errors: number;
}

export interface Provider {
  readonly publicKey: PublicKeyHex;
  /** Where this agent serves blobs and loops. */
  readonly endpoint: string;
  readonly onboarding: OnboardReport;
  readonly journal: StageJournal;
  stats(): ProviderStats;
  /** Stop taking work, let work in progress finish (up to `stopGraceMs`), close everything. */
  stop(): Promise<void>;
}

/**
 * Starts a provider agent.
 *
 * ```ts
 * const provider = await startProvider({
 *   coordinatorUrl: "http://127.0.0.1:7300",
 *   identity: await loadIdentity("fra-gpu-1.key"),
 *   node: { name: "fra-gpu-1", city: "Frankfurt", country: "DE", jurisdictions: ["DE", "EU"],
 *           latE6: 50_110_900, lonE6: 8_682_100, resourceClass: "gpu", capacity: 8 },
 *   pricePerUnitSecond: 600n, stake: 50_000_000n, dataDir: ".switchyard/fra-gpu-1", devFaucet: true,
 * });
 * // … later
 * await provider.stop();
 * ```
 */
export async function startProvider(options: StartProviderOptions): Promise<Provider> {
  const emit = (event: ProviderEvent) => options.onEvent?.(event);
  const me = options.identity.publicKey;
  const checkpointEvery = options.checkpointEvery ?? 4;
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const client = createClient({
    url: options.coordinatorUrl,
    fetch: fetchImpl,
    WebSocket: options.WebSocket ?? WebSocket,
    ed: nodeEd25519,
  });
  const blobs = filesystemBlobStore(join(options.dataDir, "blobs"));
  const journal = await openStageJournal(join(options.dataDir, "journal"));
  const ownsPool = options.pool === undefined;
  const pool =
    options.pool ??
    createWorkerPool({
      size: options.poolSize ?? Math.max(1, Math.min(options.node.capacity, defaultPoolSize())),
    });
  const counters = {
    assignments: 0,
    computed: 0,
    committed: 0,
    recommitted: 0,
    bytesFetched: 0,
    loopRounds: 0,
    loopRoundTrips: 0,
    loopMs: 0,
    errors: 0,
  };

  // The HTTP server first: its URL is the endpoint the node registers.
  const loops = qpuLoopHost({ pool, ed: nodeEd25519, checkpointEvery });
  const blobRoutesOf = blobRoutes({
    blobs,
    ...(options.blobChunkSize === undefined ? {} : { chunkSize: options.blobChunkSize }),
    ...(options.maxBlobRequests === undefined ? {} : { maxConcurrent: options.maxBlobRequests }),
  });
  const app = new Hono();
  app.route("/", blobRoutesOf.app);
  app.route("/", loops.app);
  const host = options.host ?? "127.0.0.1";
  let server: AgentHttpServer | undefined;
  let onboarding: OnboardReport;
  try {
    const registered = (await getNodes(client)).find((n) => n.id === me)?.endpoint;
    const port = options.port ?? portOf(registered, host) ?? 0;
    server = await serveApp(app, host, port).catch((cause: unknown) => {
      throw new SwitchyardError(
        "STORE_UNAVAILABLE",
        `cannot serve on ${host}:${port}: ${(cause as Error).message}${registered === undefined ? "" : ` (this node registered ${registered}; other agents fetch from there)`}`,
        { cause },
      );
    });
    const endpoint = options.publicUrl ?? server.url;
    onboarding = await onboard({
      client,
      identity: options.identity,
      node: options.node,
      endpoint,
      benchmark: () => runStandardBenchmark(options.benchmark).throughput,
      stake: options.stake,
      pricePerUnitSecond: options.pricePerUnitSecond,
      offerCapacity: options.offerCapacity ?? options.node.capacity,
      devFaucet: options.devFaucet ?? false,
      faucetMargin: options.faucetMargin ?? 10_000_000n,
    });
  } catch (error) {
    await server?.close();
    if (ownsPool) await pool.close();
    throw error;
  }
  const endpoint = options.publicUrl ?? server.url;
  if (onboarding.registeredEndpoint !== undefined && onboarding.registeredEndpoint !== endpoint) {
    emit({
      type: "error",
      error: new SwitchyardError(
        "MALFORMED",
        `this node registered the endpoint ${onboarding.registeredEndpoint}, but the agent now serves at ${endpoint}; other agents will not reach its outputs`,
      ),
    });
  }

  const inFlight = new Map<string, Promise<void>>();
  const controller = new AbortController();
  let stopping = false;

  const fail = (error: unknown, jobId?: string, stage?: string) => {
    counters.errors++;
    const typed = isSwitchyardError(error)
      ? error
      : new SwitchyardError("PROGRAM_FAILED", String(error), { cause: error });
    emit({
      type: "error",
      ...(jobId === undefined ? {} : { jobId }),
      ...(stage === undefined ? {} : { stage }),
      error: typed,
    });
  };

  /** Other agents' endpoints: where to ask for an input whose producer is unknown or gone. */
  const otherEndpoints = async () =>
    (await getNodes(client)).filter((n) => n.id !== me && n.endpoint !== undefined).map((n) => n.endpoint!);

  async function endpointOf(provider: string): Promise<string> {
    const node = (await getNodes(client)).find((n) => n.id === provider);
    if (node?.endpoint === undefined) {
      throw new SwitchyardError(
        "UNKNOWN_NODE",
        `provider ${provider.slice(0, 12)}… has no registered endpoint`,
      );
    }
    return node.endpoint;
  }

  /** The loop partner of `stage`, once it has a provider (polled until `deadline`). */
  async function placedPartner(jobId: string, stage: string, deadline: number) {
    for (let attempt = 0; ; attempt++) {
      const partner = loopOf(await getJob(client, { id: jobId }), stage)?.partner;
      if (partner?.provider !== undefined && (partner.status === "matched" || partner.status === "running")) {
        return partner;
      }
      if (partner === undefined || Date.now() > deadline || stopping) {
        throw new SwitchyardError(
          "UNKNOWN_STAGE",
          `stage ${stage} of job ${jobId.slice(0, 12)}… has no placed loop partner`,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** Math.min(attempt, 5))));
    }
  }

  async function compute(a: Assignment, job: JobView): Promise<StageResult> {
    const view = job.stages.find((s) => s.name === a.stage);
    const deadline = view?.deadline ?? a.deadline;
    const loop = loopOf(job, a.stage);
    const role = loop?.role;
    if (role === "qpu") {
      const params = a.params as { graph: MaxCutGraph; angles: QaoaAngles };
      const outcome = await loops.serve({
        jobId: a.jobId,
        stage: a.stage,
        graph: params.graph,
        angles: params.angles,
        deadline,
        partner: async () =>
          loopOf(await getJob(client, { id: a.jobId }), a.stage)?.partner.provider as
            | PublicKeyHex
            | undefined,
      });
      emit({ type: "loop", jobId: a.jobId, stage: a.stage, role, rounds: outcome.rounds });
      const output = await blobs.put(canonicalBytes({ expectedCuts: outcome.expectedCuts }));
      return { root: outcome.root, output, steps: outcome.rounds };
    }
    if (role === "optimizer") {
      const qpu = await placedPartner(a.jobId, a.stage, deadline);
      const outcome = await runOptimizerLoop({
        jobId: a.jobId,
        qpuStage: qpu.name,
        qpuEndpoint: async (refresh) =>
          endpointOf(refresh ? (await placedPartner(a.jobId, a.stage, deadline)).provider! : qpu.provider!),
        params: a.params,
        ...(loop?.iterations === undefined ? {} : { iterations: loop.iterations }),
        identity: options.identity,
        ed: nodeEd25519,
        pool,
        checkpointEvery,
        fetch: fetchImpl,
        deadline,
        signal: controller.signal,
      });
      counters.loopRounds += outcome.rounds;
      counters.loopRoundTrips += outcome.roundTrips;
      counters.loopMs += outcome.loopMs;
      emit({
        type: "loop",
        jobId: a.jobId,
        stage: a.stage,
        role,
        rounds: outcome.rounds,
        roundTrips: outcome.roundTrips,
        loopMs: outcome.loopMs,
      });
      const output = await blobs.put(canonicalBytes(outcome.output));
      return { root: outcome.root, output, steps: outcome.steps };
    }
    const run = await runStage(a, {
      pool,
      blobs,
      checkpointEvery,
      fetch: fetchImpl,
      fallbackSources: otherEndpoints,
      timeLimitMs: Math.max(1_000, deadline - Date.now()),
      onInput: (transfer) => {
        if ("local" in transfer) {
          emit({ type: "input", jobId: a.jobId, stage: a.stage, cid: transfer.cid, local: true });
          return;
        }
        counters.bytesFetched += transfer.bytesReceived;
        const { cid, source, chunks, bytesReceived, requests, chunkRefetches, ms } = transfer;
        emit({
          type: "input",
          jobId: a.jobId,
          stage: a.stage,
          cid,
          local: false,
          transfer: {
            source,
            size: transfer.bytes.length,
            chunks,
            bytesReceived,
            requests,
            chunkRefetches,
            ms,
          },
        });
      },
    });
    return { root: run.root, output: run.output, steps: run.steps };
  }

  /** After a refused commit or start: what the coordinator holds decides. */
  async function resolveFromJob(
    jobId: string,
    stage: string,
    result: StageResult | undefined,
  ): Promise<"committed" | "abandoned" | "open"> {
    const job = await getJob(client, { id: jobId });
    const view = job.stages.find((s) => s.name === stage);
    if (view === undefined || view.provider !== me) return "abandoned";
    if (view.status === "matched" || view.status === "running") return "open";
    if (result !== undefined && view.root === result.root && view.output === result.output)
      return "committed";
    return "abandoned";
  }

  async function work(a: Assignment): Promise<void> {
    const record = journal.get(a.jobId, a.stage);
    const plan = planStage(record, a.status, false)!;
    emit({
      type: "assignment",
      assignment: a,
      plan: plan.result !== undefined ? "recommit" : plan.start ? "start" : "compute",
    });
    const base = { jobId: a.jobId, stage: a.stage, program: a.program };
    if (plan.start) {
      try {
        await signAndSubmit(client, {
          identity: options.identity,
          type: "startStage",
          body: { jobId: a.jobId, stage: a.stage },
        });
      } catch (error) {
        if (!isSwitchyardError(error, "ILLEGAL_TRANSITION") && !isSwitchyardError(error, "NOT_AUTHORIZED"))
          throw error;
        const where = await resolveFromJob(a.jobId, a.stage, record?.result);
        if (where !== "open") {
          await journal.record({
            ...base,
            phase: where,
            ...(record?.result === undefined ? {} : { result: record.result }),
          });
          emit(
            where === "committed"
              ? { type: "committed", jobId: a.jobId, stage: a.stage, already: true }
              : { type: "abandoned", jobId: a.jobId, stage: a.stage, reason: error.message },
          );
          return;
        }
      }
    }
    // A stage given back to us after it went elsewhere reopens its record; a result is kept.
    if (plan.result === undefined) await journal.record({ ...base, phase: "started" });
    else if (record?.phase === "abandoned")
      await journal.record({ ...base, phase: "computed", result: plan.result });
    let result = plan.result;
    if (result === undefined) {
      const t0 = performance.now();
      result = await compute(a, await getJob(client, { id: a.jobId }));
      counters.computed++;
      await journal.record({ ...base, phase: "computed", result });
      emit({ type: "computed", jobId: a.jobId, stage: a.stage, result, ms: performance.now() - t0 });
    } else {
      counters.recommitted++;
    }
    try {
      const { receipt } = await signAndSubmit(client, {
        identity: options.identity,
        type: "commitResult",
        body: { jobId: a.jobId, stage: a.stage, ...result },
      });
      await journal.record({ ...base, phase: "committed" });
      counters.committed++;
      emit({ type: "committed", jobId: a.jobId, stage: a.stage, seq: receipt.seq });
    } catch (error) {
      if (!isSwitchyardError(error, "ILLEGAL_TRANSITION") && !isSwitchyardError(error, "NOT_AUTHORIZED"))
        throw error;
      const where = await resolveFromJob(a.jobId, a.stage, result);
      if (where === "open") throw error;
      await journal.record({ ...base, phase: where });
      emit(
        where === "committed"
          ? { type: "committed", jobId: a.jobId, stage: a.stage, already: true }
          : { type: "abandoned", jobId: a.jobId, stage: a.stage, reason: error.message },
      );
    }
  }

  /** The latest word on each stage (a retry uses it rather than the assignment it began with). */
  const latest = new Map<string, Assignment>();
  const retries = new Map<string, number>();
  const retryTimers = new Set<ReturnType<typeof setTimeout>>();

  function handle(a: Assignment): void {
    const key = `${a.jobId}/${a.stage}`;
    latest.set(key, a);
    if (stopping || inFlight.has(key)) return;
    counters.assignments++;
    const done = work(a)
      .then(
        () => {
          retries.delete(key);
          latest.delete(key);
        },
        (error: unknown) => {
          fail(error, a.jobId, a.stage);
          // A coordinator or peer that cannot be reached now may be back in a moment (a restart),
          // and its re-delivery may have arrived while this attempt was still in flight: try again
          // with backoff until the deadline. The journal makes a retry resume, not repeat.
          const transient = isUnreachable(error) || isSwitchyardError(error, "STORE_UNAVAILABLE");
          const attempt = (retries.get(key) ?? 0) + 1;
          if (!transient || stopping || Date.now() > (latest.get(key) ?? a).deadline + 60_000) return;
          retries.set(key, attempt);
          const timer = setTimeout(
            () => {
              retryTimers.delete(timer);
              handle(latest.get(key) ?? a);
            },
            Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)),
          );
          retryTimers.add(timer);
        },
      )
      .finally(() => inFlight.delete(key));
    inFlight.set(key, done);
  }

  /**
   * After a (re)connect: journal records left open whose stage the coordinator no longer lists as
   * open work were either committed (an acknowledgement lost with the restart) or moved on without
   * us; the job view says which. Open ones come back through the catch-up and go to `handle`.
   */
  async function reconcile(): Promise<void> {
    const open = new Set(
      (await getAssignments(client, { provider: me })).map((a) => `${a.jobId}/${a.stage}`),
    );
    for (const record of journal.all()) {
      if (record.phase === "committed" || record.phase === "abandoned") continue;
      const key = `${record.jobId}/${record.stage}`;
      if (open.has(key) || inFlight.has(key)) continue;
      const where = await resolveFromJob(record.jobId, record.stage, record.result).catch((error: unknown) =>
        isSwitchyardError(error, "UNKNOWN_JOB") ? "abandoned" : "open",
      );
      if (where === "open") continue;
      const { jobId, stage, program, result } = record;
      await journal.record({
        jobId,
        stage,
        program,
        phase: where,
        ...(result === undefined ? {} : { result }),
      });
      emit(
        where === "committed"
          ? { type: "committed", jobId: record.jobId, stage: record.stage, already: true }
          : {
              type: "abandoned",
              jobId: record.jobId,
              stage: record.stage,
              reason: "the coordinator shows the stage elsewhere",
            },
      );
    }
  }

  const assignments = subscribeAssignments(client, {
    provider: me,
    signal: controller.signal,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    onStatus: (status) => {
      emit({ type: "connection", status });
      if (status.type === "open")
        reconcile().catch((error: unknown) => {
          if (!isUnreachable(error)) fail(error);
        });
    },
  });
  const consuming = (async () => {
    for await (const a of assignments) handle(a);
  })();

  emit({ type: "ready", endpoint, onboarding });
  return {
    publicKey: me,
    endpoint,
    onboarding,
    journal,
    stats: () => ({
      ...counters,
      bytesServed: blobRoutesOf.stats().bytesServed,
      loopRounds: counters.loopRounds + loops.roundsServed(),
    }),
    async stop() {
      if (stopping) return;
      stopping = true;
      controller.abort();
      for (const timer of retryTimers) clearTimeout(timer);
      await consuming.catch(() => {});
      const grace = new Promise((r) => setTimeout(r, options.stopGraceMs ?? 10_000).unref());
      await Promise.race([Promise.all(inFlight.values()), grace]);
      if (ownsPool) await pool.close();
      await server.close();
    },
  };
}

/** The port of a registered endpoint served on this host, to bind the same one again. */
function portOf(endpoint: string | undefined, host: string): number | undefined {
  if (endpoint === undefined) return undefined;
  try {
    const url = new URL(endpoint);
    const sameHost =
      url.hostname === host || url.hostname === `[${host}]` || (host === "0.0.0.0" && url.hostname !== "");
    return sameHost && url.port !== "" ? Number(url.port) : undefined;
  } catch {
    return undefined;
  }
}
