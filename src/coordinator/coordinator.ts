/**
 * `startCoordinator`: the networked shell around the pure core (DESIGN.md §2, §5). It recovers the
 * state from its log (latest snapshot plus replay), writes a genesis into an empty log, and serves
 * the API of src/protocol/api.ts over HTTP and WebSocket, with a sequencer that acknowledges a
 * message only once it is durable.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { pino } from "pino";
import { z } from "zod";
import { apply, type State, stateHash } from "../core/index.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32, PublicKeyHex } from "../protocol/ids.ts";
import { genesisEvent, hashLogEvent } from "../protocol/log.ts";
import { defaultParams, type Params, paramsSchema } from "../protocol/params.ts";
import type { EventStore, LogHead } from "../store/event-store.ts";
import { recoverState } from "../store/recover.ts";
import { admitWithBlobs } from "./admit.ts";
import { createBlobCache } from "./blob-cache.ts";
import { createHttpApi } from "./http-api.ts";
import { createMetrics } from "./metrics.ts";
import { openapiDocument } from "./openapi.ts";
import { type CoordinatorOptions, defaultVerifierThreads, eventStoreOf, resolveLimits } from "./options.ts";
import { Sequencer } from "./sequencer.ts";
import { StreamHub } from "./stream.ts";
import { startTicker } from "./ticker.ts";
import { createCryptoPool } from "./verifier.ts";

export type { CoordinatorLimits, CoordinatorOptions } from "./options.ts";

/** A running coordinator. */
export interface Coordinator {
  /** Base URL of the API, e.g. `http://127.0.0.1:7300`. */
  readonly url: string;
  readonly net: string;
  /** The key that signs receipts. */
  readonly publicKey: PublicKeyHex;
  /** Which EventStore adapter holds the log. */
  readonly storeKind: string;
  /** Hash of the state as applied (equal to the durable state's once the coordinator is idle). */
  stateHash(): Hex32;
  /** The last durable event. */
  head(): LogHead;
  /** Why the coordinator halted, or null. */
  halted(): SwitchyardError | null;
  /** Resolves once stopped: null after `stop()`, the cause after a halt (exit non-zero then). */
  readonly stopped: Promise<SwitchyardError | null>;
  /** Stop accepting, finish admitted messages, snapshot, close sockets and the store. Idempotent. */
  stop(): Promise<void>;
}

/** Write the genesis of a new log. Returns the state after it and its head. */
async function writeGenesis(
  store: EventStore,
  state: State,
  options: CoordinatorOptions,
  now: number,
): Promise<LogHead> {
  let params: Params;
  try {
    params = paramsSchema.parse(z.encode(paramsSchema, { ...defaultParams, ...options.params }));
  } catch (cause) {
    throw new SwitchyardError("MALFORMED", `genesis parameters are out of bounds: ${String(cause)}`, {
      cause,
    });
  }
  const event = genesisEvent(options.net ?? "dev", params, options.devFaucet ?? false, now);
  const result = apply(state, event);
  if (!result.ok) throw result.error;
  const stored = { ...event, hash: hashLogEvent(event) };
  await store.append([stored]);
  return { seq: 0, hash: stored.hash };
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Start a coordinator: open and recover the log, then serve.
 *
 * @example
 * const coordinator = await startCoordinator({
 *   store: ".switchyard/log", identity, net: "dev", devFaucet: true, port: 7300,
 * });
 * console.log(`listening on ${coordinator.url}`);
 * const halt = await coordinator.stopped; // null after stop(); exit non-zero on a halt
 */
export async function startCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  const logger = options.logger ?? pino({ name: "switchyard-coordinator" });
  const clock = options.clock ?? Date.now;
  const limits = resolveLimits(options.limits);
  const store = eventStoreOf(options.store);
  await store.open();
  let state: State;
  let head: LogHead;
  let snapshotSeq: number | null = null;
  try {
    const recovered = await recoverState(store);
    state = recovered.state;
    if (recovered.head === null) head = await writeGenesis(store, state, options, clock());
    else {
      head = recovered.head;
      snapshotSeq = recovered.fromSnapshot;
      logger.info(
        { seq: head.seq, fromSnapshot: recovered.fromSnapshot, replayed: recovered.replayed },
        "recovered the log",
      );
      if (options.net !== undefined && options.net !== state.net) {
        logger.warn(
          { log: state.net, option: options.net },
          "the log names another network; keeping the log's",
        );
      }
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  const net = state.net ?? "";
  const metrics = createMetrics();
  const crypto = createCryptoPool(options.identity, options.verifierThreads ?? defaultVerifierThreads());
  let hub: StreamHub | null = null;
  let stop: (halt: SwitchyardError | null) => Promise<void> = async () => {};
  const blobs = createBlobCache(options.blobCache);
  const sequencer = new Sequencer({
    admit: admitWithBlobs(blobs),
    store,
    state,
    head,
    snapshotSeq,
    crypto,
    clock,
    snapshotEvery: options.snapshotEvery ?? 50_000,
    maxPending: limits.maxPendingMessages,
    metrics,
    logger,
    onDurable: (events) => hub?.deliver(events),
    onHalt: (cause) => void stop(cause),
  });

  const app = createHttpApi({
    sequencer,
    store,
    coordinator: options.identity.publicKey,
    limits,
    metrics,
    lastSeen: (node) => hub?.lastSeen(node),
    openapi: openapiDocument("0.1.0"),
    blobs,
  });
  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: {
      // How often Node checks the two timeouts below; the default (30 s) would let a slow client
      // outlive a short timeout by that much.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    },
  }) as Server;
  server.maxConnections = limits.maxConnections;
  server.on("connection", (socket) => {
    metrics.httpConnections.inc();
    socket.once("close", () => metrics.httpConnections.dec());
  });
  hub = new StreamHub({
    server,
    sequencer,
    coordinator: options.identity.publicKey,
    limits: {
      maxFrameBytes: limits.maxBodyBytes,
      maxDepth: limits.maxDepth,
      maxClients: limits.maxStreamClients,
      pingIntervalMs: limits.pingIntervalMs,
      maxBufferedBytes: limits.maxBufferedBytes,
      maxInFlight: limits.maxInFlightPerStream,
      maxBadFrames: limits.maxBadFrames,
    },
    metrics,
    logger,
    clock,
    emulation: options.emulation,
  });

  let address: AddressInfo;
  try {
    address = await listen(server, options.port ?? 7300, options.host ?? "127.0.0.1");
  } catch (error) {
    await hub.close();
    await crypto.close();
    await store.close();
    throw new SwitchyardError("STORE_UNAVAILABLE", `cannot listen: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const ticker = startTicker(sequencer, options.tickIntervalMs ?? 1000, clock, logger);
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, net, seq: head.seq, store: store.kind }, "coordinator listening");

  let resolveStopped: (halt: SwitchyardError | null) => void = () => {};
  const stopped = new Promise<SwitchyardError | null>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | null = null;
  stop = (halt) => {
    stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await ticker.stop();
      await sequencer.close();
      await hub.close();
      server.closeIdleConnections();
      // Requests already answered are being written; give them a moment, then cut whatever is
      // left (a slow client that never finishes its request, say).
      const cut = setTimeout(() => server.closeAllConnections(), 1000);
      await closed;
      clearTimeout(cut);
      await crypto.close();
      await store.close();
      logger.info({ seq: sequencer.durableHead.seq, halted: halt?.code ?? null }, "coordinator stopped");
      resolveStopped(halt);
    })();
    return stopping;
  };

  return {
    url,
    net,
    publicKey: options.identity.publicKey,
    storeKind: store.kind,
    stateHash: () => stateHash(sequencer.state),
    head: () => sequencer.durableHead,
    halted: () => sequencer.halted,
    stopped,
    stop: () => stop(null),
  };
}
