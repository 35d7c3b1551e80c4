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
 *
 * This file is the lifecycle: serve, onboard, subscribe, stop. The public types are in
 * provider-types.ts, an assignment's work in work-assignment.ts (queued by assignment-queue.ts),
 * the computation of a stage in compute-stage.ts.
 */
import { Hono } from "hono";
import { SwitchyardError } from "../protocol/errors.ts";
import { type Backoff, getNodes, isUnreachable, signAndSubmit, subscribeAssignments } from "../sdk/index.ts";
import { type AssignmentQueue, assignmentQueue } from "./assignment-queue.ts";
import { runStandardBenchmark } from "./benchmark.ts";
import { type BlobRoutes, blobRoutes } from "./blob-server.ts";
import { type AgentHttpServer, serveApp } from "./http.ts";
import { type OnboardReport, onboard } from "./onboard.ts";
import { openProviderContext, type ProviderContext, reportError } from "./provider-context.ts";
import type { Provider, ProviderStats, StartProviderOptions } from "./provider-types.ts";
import { type RelayRoutes, relayRoutes } from "./relay.ts";
import { createRttProbe, pingRoutes, type RttProbe } from "./rtt-probe.ts";
import { startVerifierRole } from "./verification.ts";
import { reconcileJournal } from "./work-assignment.ts";

export type { ProviderNode } from "./onboard.ts";
export type {
  InputTransfer,
  Provider,
  ProviderEvent,
  ProviderStats,
  StartProviderOptions,
} from "./provider-types.ts";

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
  const controller = new AbortController();
  const ctx = await openProviderContext(options, controller.signal);
  const probe = rttProbeOf(ctx, options);
  const { app, blobService, relay } = agentRoutes(ctx, options, probe);
  const { server, onboarding } = await serveAndOnboard(ctx, options, app).catch(async (error: unknown) => {
    if (ctx.ownsPool) await ctx.pool.close();
    throw error;
  });
  const endpoint = options.publicUrl ?? server.url;
  warnIfEndpointMoved(ctx, onboarding, endpoint);
  const queue = assignmentQueue(ctx);
  const consuming = consumeAssignments(ctx, options.backoff, queue);
  startVerifierRole(ctx, {
    intervalMs: options.taskPollMs ?? 250,
    cheat: options.cheat !== undefined,
    lazy: options.lazy === true,
  });
  // Registered now, so its reports are accepted.
  probe?.start();
  ctx.emit({ type: "ready", endpoint, onboarding });
  return {
    publicKey: ctx.me,
    endpoint,
    onboarding,
    journal: ctx.journal,
    rttProbe: probe,
    relay: relay === undefined ? undefined : { accounting: relay.accounting, stats: relay.stats },
    stats: () => statsOf(ctx, blobService),
    stop: () =>
      stopAgent({ ctx, controller, queue, consuming, probe, server, graceMs: options.stopGraceMs ?? 10_000 }),
  };
}

/**
 * The probe that keeps this node's network coordinate (rtt-probe.ts): peers from the coordinator's
 * node list, pings over the agent's own fetch (so local networks pay the emulated latency), reports
 * signed with the node's identity. Unreachable coordinators and peers are expected and not errors.
 */
function rttProbeOf(ctx: ProviderContext, options: StartProviderOptions): RttProbe | undefined {
  if (options.rttProbe === false) return undefined;
  return createRttProbe({
    ...options.rttProbe,
    self: ctx.me,
    location: { latE6: options.node.latE6, lonE6: options.node.lonE6 },
    nodes: () => getNodes(ctx.client),
    fetch: ctx.fetch,
    publish: async (coordinate) => {
      await signAndSubmit(ctx.client, {
        identity: ctx.identity,
        type: "reportCoordinate",
        body: { coordinate },
      });
    },
    signal: ctx.signal,
    onError: (error) => {
      if (!isUnreachable(error)) reportError(ctx, error);
    },
    onPublish: (coordinate, round) =>
      ctx.emit({
        type: "coordinate",
        coordinate,
        round: round.round,
        samples: round.samples.filter((s) => s.rttMs !== undefined).length,
      }),
  });
}

/**
 * What other agents reach on this one: its blobs, the qpu half of its loops and its ping; on a relay
 * node (or with `relay`), the relay role, which forwards sealed blobs only.
 */
function agentRoutes(
  ctx: ProviderContext,
  options: StartProviderOptions,
  probe: RttProbe | undefined,
): { app: Hono; blobService: BlobRoutes; relay: RelayRoutes | undefined } {
  const blobService = blobRoutes({
    blobs: ctx.blobs,
    ...(options.blobChunkSize === undefined ? {} : { chunkSize: options.blobChunkSize }),
    ...(options.maxBlobRequests === undefined ? {} : { maxConcurrent: options.maxBlobRequests }),
  });
  const app = new Hono();
  app.route("/", blobService.app);
  app.route("/", ctx.loops.app);
  const coordinate = () => probe?.networkCoordinate();
  app.route("/", pingRoutes(ctx.me, coordinate));
  const relay =
    options.node.resourceClass === "relay" || options.relay !== undefined
      ? relayRoutes({
          fetch: ctx.fetch,
          // Its own accounting at the price its offer asks, unless the relay options say otherwise.
          ...(options.pricePerGigabyte === undefined ? {} : { pricePerGigabyte: options.pricePerGigabyte }),
          ...options.relay,
        })
      : undefined;
  if (relay !== undefined) app.route("/", relay.app);
  return { app, blobService, relay };
}

/**
 * The HTTP server first, its URL being the endpoint the node registers; then onboarding. The
 * server binds the port of the endpoint registered earlier, if any: it cannot be changed later.
 */
async function serveAndOnboard(
  ctx: ProviderContext,
  options: StartProviderOptions,
  app: Hono,
): Promise<{ server: AgentHttpServer; onboarding: OnboardReport }> {
  const host = options.host ?? "127.0.0.1";
  let server: AgentHttpServer | undefined;
  try {
    const registered = (await getNodes(ctx.client)).find((n) => n.id === ctx.me)?.endpoint;
    const port = options.port ?? portOf(registered, host) ?? 0;
    server = await serveApp(app, host, port).catch((cause: unknown) => {
      throw new SwitchyardError(
        "STORE_UNAVAILABLE",
        `cannot serve on ${host}:${port}: ${(cause as Error).message}${registered === undefined ? "" : ` (this node registered ${registered}; other agents fetch from there)`}`,
        { cause },
      );
    });
    const onboarding = await onboard({
      client: ctx.client,
      identity: options.identity,
      node: options.node,
      endpoint: options.publicUrl ?? server.url,
      benchmark: () => runStandardBenchmark(options.benchmark).throughput,
      stake: options.stake,
      pricePerUnitSecond: options.pricePerUnitSecond,
      pricePerGigabyte: options.pricePerGigabyte,
      offerCapacity: options.offerCapacity ?? options.node.capacity,
      devFaucet: options.devFaucet ?? false,
      faucetMargin: options.faucetMargin ?? 10_000_000n,
    });
    return { server, onboarding };
  } catch (error) {
    await server?.close();
    throw error;
  }
}

/** The registered endpoint cannot be changed (there is no message for it): say so when it moved. */
function warnIfEndpointMoved(ctx: ProviderContext, onboarding: OnboardReport, endpoint: string): void {
  if (onboarding.registeredEndpoint === undefined || onboarding.registeredEndpoint === endpoint) return;
  ctx.emit({
    type: "error",
    error: new SwitchyardError(
      "MALFORMED",
      `this node registered the endpoint ${onboarding.registeredEndpoint}, but the agent now serves at ${endpoint}; other agents will not reach its outputs`,
    ),
  });
}

/**
 * Subscribes to this provider's assignments (reconnecting; every connect re-delivers the open
 * ones) and hands each to the queue. After every connect the journal is reconciled.
 */
function consumeAssignments(
  ctx: ProviderContext,
  backoff: Backoff | undefined,
  queue: AssignmentQueue,
): Promise<void> {
  const assignments = subscribeAssignments(ctx.client, {
    provider: ctx.me,
    signal: ctx.signal,
    ...(backoff === undefined ? {} : { backoff }),
    onStatus: (status) => {
      ctx.emit({ type: "connection", status });
      if (status.type === "open")
        reconcileJournal(ctx, queue.inFlight).catch((error: unknown) => {
          if (!isUnreachable(error)) reportError(ctx, error);
        });
    },
  });
  return (async () => {
    for await (const a of assignments) queue.handle(a);
  })();
}

function statsOf(ctx: ProviderContext, blobService: BlobRoutes): ProviderStats {
  return {
    ...ctx.counters,
    bytesServed: blobService.stats().bytesServed,
    loopRounds: ctx.counters.loopRounds + ctx.loops.roundsServed(),
  };
}

/**
 * Stop taking work and probing, let work in progress (and a probe round's report) finish, up to
 * `graceMs`; close the pool (if ours) and the server.
 */
async function stopAgent(running: {
  readonly ctx: ProviderContext;
  readonly controller: AbortController;
  readonly queue: AssignmentQueue;
  readonly consuming: Promise<void>;
  readonly probe: RttProbe | undefined;
  readonly server: AgentHttpServer;
  readonly graceMs: number;
}): Promise<void> {
  const { ctx, controller, queue, consuming, probe, server, graceMs } = running;
  if (controller.signal.aborted) return;
  controller.abort();
  queue.cancelRetries();
  await consuming.catch(() => {});
  const grace = new Promise((r) => setTimeout(r, graceMs).unref());
  await Promise.race([Promise.all([queue.settled(), probe?.stopped()]), grace]);
  if (ctx.ownsPool) await ctx.pool.close();
  await server.close();
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
