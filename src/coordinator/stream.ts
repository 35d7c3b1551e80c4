/**
 * /v1/stream: the WebSocket side of the API (ws, on the same HTTP server). Server frames follow
 * `streamFrameSchema`, client frames `clientFrameSchema` (api.ts).
 *
 * - `?provider=<key>`: that provider's assignments, pushed once their event is durable (and, on
 *   connect, its open assignments, so a reconnecting agent misses nothing);
 * - `?job=<id>`: that job's stage status changes and the events that touched it (on connect, the
 *   current status of each stage);
 * - no filter: every event, as a follower feed.
 *
 * Clients may submit envelopes and get a receipt or error frame per submission. Everything a
 * client sends is bounded: frame size (ws closes with 1009), JSON depth, submissions in flight, bad
 * frames before the socket is closed with 1008, and a ping every interval that must be answered
 * before the next (a client trickling a frame one byte at a time cannot answer, and is cut off).
 * A client that reads too slowly is dropped rather than buffered without limit.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { type ApiError, apiPaths, clientFrameSchema, type StreamFrame } from "../protocol/api.ts";
import { decodeEnvelope } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { JobId, PublicKeyHex } from "../protocol/ids.ts";
import { parseJsonLimited } from "../protocol/json.ts";
import { apiErrorOf, asSwitchyardError, httpErrorOf } from "./http-errors.ts";
import type { CoordinatorMetrics } from "./metrics.ts";
import type { SequencedEvent, Sequencer } from "./sequencer.ts";
import { assignmentOf, assignmentsOf } from "./work-views.ts";

export interface StreamLimits {
  readonly maxFrameBytes: number;
  readonly maxDepth: number;
  readonly maxClients: number;
  /** A client that has not answered the previous ping when the next is due is terminated. */
  readonly pingIntervalMs: number;
  /** Bytes queued for a client beyond which it is dropped as too slow. */
  readonly maxBufferedBytes: number;
  /** Submissions per client awaiting their receipt. */
  readonly maxInFlight: number;
  /** Bad frames a client may send before it is disconnected. */
  readonly maxBadFrames: number;
}

/** Delays what is pushed to a provider by the emulated one-way latency (see src/sim/emulation.ts). */
export interface Emulation {
  oneWayMsTo(provider: PublicKeyHex): number;
}

export interface StreamHubOptions {
  readonly server: Server;
  readonly sequencer: Sequencer;
  readonly coordinator: PublicKeyHex;
  readonly limits: StreamLimits;
  readonly metrics: CoordinatorMetrics;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly emulation?: Emulation | undefined;
}

type Subscription =
  | { readonly kind: "all" }
  | { readonly kind: "provider"; readonly provider: PublicKeyHex }
  | { readonly kind: "job"; readonly jobId: JobId };

interface Client {
  readonly ws: WebSocket;
  readonly sub: Subscription;
  alive: boolean;
  inFlight: number;
  badFrames: number;
}

const hex = /^[0-9a-f]{64}$/;

/** Parse the upgrade URL into a subscription, or the refusal to answer with. */
function subscriptionOf(url: URL): Subscription {
  const provider = url.searchParams.get("provider");
  const job = url.searchParams.get("job");
  if (provider !== null && job !== null) {
    throw new SwitchyardError("MALFORMED", "subscribe to a provider or a job, not both");
  }
  if (provider !== null) {
    if (!hex.test(provider))
      throw new SwitchyardError("MALFORMED", "provider must be 64 lowercase hex digits");
    return { kind: "provider", provider: provider as PublicKeyHex };
  }
  if (job !== null) {
    if (!hex.test(job)) throw new SwitchyardError("MALFORMED", "job must be 64 lowercase hex digits");
    return { kind: "job", jobId: job as JobId };
  }
  return { kind: "all" };
}

/** Answer an upgrade request with an HTTP error and close the socket. */
function refuseUpgrade(socket: Duplex, error: SwitchyardError): void {
  const { status, body } = httpErrorOf(error);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${status === 503 ? "Service Unavailable" : status === 404 ? "Not Found" : "Bad Request"}\r\n` +
      `Connection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export class StreamHub {
  readonly #o: StreamHubOptions;
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  readonly #all = new Set<Client>();
  readonly #byProvider = new Map<PublicKeyHex, Set<Client>>();
  readonly #byJob = new Map<JobId, Set<Client>>();
  readonly #lastSeen = new Map<PublicKeyHex, number>();
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    this.#upgrade(req, socket, head);
  #closing = false;

  constructor(options: StreamHubOptions) {
    this.#o = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.limits.maxFrameBytes,
      // Compression would let a small frame inflate to the payload limit and costs CPU per frame.
      perMessageDeflate: false,
      clientTracking: false,
    });
    options.server.on("upgrade", this.#onUpgrade);
    this.#heartbeat = setInterval(() => this.#ping(), options.limits.pingIntervalMs);
    this.#heartbeat.unref();
  }

  /** When a provider's agent was last heard from on the stream (not replicated state). */
  lastSeen(provider: PublicKeyHex): number | undefined {
    return this.#lastSeen.get(provider);
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Push frames for events that just became durable. */
  deliver(events: readonly SequencedEvent[]): void {
    if (this.#clients.size === 0) return;
    const state = this.#o.sequencer.state;
    for (const { event, effects, stageChanges, jobs } of events) {
      const kind = event.payload.kind === "msg" ? event.payload.env.type : event.payload.sys.type;
      const frame: StreamFrame = { type: "event", seq: event.seq, hash: event.hash, time: event.time, kind };
      const text = JSON.stringify(frame);
      for (const client of this.#all) this.#send(client, text);
      for (const jobId of jobs) for (const client of this.#byJob.get(jobId) ?? []) this.#send(client, text);
      for (const change of stageChanges) {
        const watchers = this.#byJob.get(change.jobId);
        if (watchers === undefined) continue;
        const stage = JSON.stringify({ type: "stage", ...change, seq: event.seq } satisfies StreamFrame);
        for (const client of watchers) this.#send(client, stage);
      }
      for (const effect of effects) {
        if (effect.type !== "assign") continue;
        const watchers = this.#byProvider.get(effect.provider);
        if (watchers === undefined) continue;
        const frame = JSON.stringify({
          type: "assignment",
          assignment: assignmentOf(state, effect),
        } satisfies StreamFrame);
        for (const client of watchers) this.#send(client, frame);
      }
    }
  }

  /** Refuse new clients, close every open one (1001), and detach from the server. */
  async close(graceMs = 500): Promise<void> {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    this.#o.server.off("upgrade", this.#onUpgrade);
    const closing = [...this.#clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.ws.once("close", () => resolve());
          client.ws.close(1001, "coordinator stopping");
          setTimeout(() => {
            client.ws.terminate();
            resolve();
          }, graceMs).unref();
        }),
    );
    await Promise.all(closing);
    this.#wss.close();
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    try {
      const url = new URL(req.url ?? "/", "http://coordinator");
      if (url.pathname !== apiPaths.stream)
        throw new SwitchyardError("NOT_FOUND", `no stream at ${url.pathname}`);
      if (this.#closing || this.#o.sequencer.halted !== null) {
        throw new SwitchyardError("STORE_UNAVAILABLE", "the coordinator is stopping");
      }
      if (this.#clients.size >= this.#o.limits.maxClients) {
        throw new SwitchyardError(
          "STORE_UNAVAILABLE",
          `stream is full (${this.#o.limits.maxClients} clients); retry later`,
          {
            details: { reason: "max-clients" },
          },
        );
      }
      const sub = subscriptionOf(url);
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, sub));
    } catch (error) {
      refuseUpgrade(socket, asSwitchyardError(error));
    }
  }

  #accept(ws: WebSocket, sub: Subscription): void {
    const client: Client = { ws, sub, alive: true, inFlight: 0, badFrames: 0 };
    this.#clients.add(client);
    this.#index(client, true);
    this.#o.metrics.wsClients.set(this.#clients.size);
    this.#touch(client);
    ws.on("pong", () => {
      client.alive = true;
      this.#touch(client);
    });
    ws.on("message", (data, isBinary) => {
      client.alive = true;
      this.#touch(client);
      this.#receive(client, data, isBinary);
    });
    ws.on("error", (error) => this.#o.logger.debug({ err: error }, "stream client error"));
    ws.on("close", () => {
      this.#clients.delete(client);
      this.#index(client, false);
      this.#o.metrics.wsClients.set(this.#clients.size);
    });
    this.#greet(client);
  }

  #greet(client: Client): void {
    const { sequencer } = this.#o;
    const state = sequencer.state;
    const hello: StreamFrame = {
      type: "hello",
      net: state.net ?? "",
      seq: sequencer.durableHead.seq,
      coordinator: this.#o.coordinator,
    };
    this.#send(client, JSON.stringify(hello));
    if (client.sub.kind === "provider") {
      for (const assignment of assignmentsOf(state, client.sub.provider)) {
        this.#send(client, JSON.stringify({ type: "assignment", assignment } satisfies StreamFrame));
      }
    } else if (client.sub.kind === "job") {
      const job = state.jobs.get(client.sub.jobId);
      for (const [name, stage] of job?.stages ?? []) {
        const frame: StreamFrame = {
          type: "stage",
          jobId: client.sub.jobId,
          stage: name,
          status: stage.status,
          seq: state.seq,
        };
        this.#send(client, JSON.stringify(frame));
      }
    }
  }

  #index(client: Client, add: boolean): void {
    const { sub } = client;
    const [map, key] =
      sub.kind === "provider"
        ? [this.#byProvider as Map<string, Set<Client>>, sub.provider as string]
        : sub.kind === "job"
          ? [this.#byJob as Map<string, Set<Client>>, sub.jobId as string]
          : [null, ""];
    if (map === null) {
      if (add) this.#all.add(client);
      else this.#all.delete(client);
      return;
    }
    const set = map.get(key) ?? new Set<Client>();
    if (add) set.add(client);
    else set.delete(client);
    if (set.size > 0) map.set(key, set);
    else map.delete(key);
  }

  #touch(client: Client): void {
    if (client.sub.kind === "provider") this.#lastSeen.set(client.sub.provider, this.#o.clock());
  }

  #ping(): void {
    for (const client of this.#clients) {
      if (!client.alive) {
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
    }
  }

  #send(client: Client, text: string): void {
    const delay =
      client.sub.kind === "provider" ? (this.#o.emulation?.oneWayMsTo(client.sub.provider) ?? 0) : 0;
    if (delay > 0) setTimeout(() => this.#write(client, text), delay).unref();
    else this.#write(client, text);
  }

  #write(client: Client, text: string): void {
    const { ws } = client;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.#o.limits.maxBufferedBytes) {
      this.#o.logger.warn({ buffered: ws.bufferedAmount }, "dropping a stream client that reads too slowly");
      ws.terminate();
      return;
    }
    ws.send(text);
  }

  #error(client: Client, error: SwitchyardError, id?: string): void {
    const body: ApiError = apiErrorOf(error);
    this.#send(
      client,
      JSON.stringify({
        type: "error",
        ...(id === undefined ? {} : { id }),
        error: body,
      } satisfies StreamFrame),
    );
  }

  #bad(client: Client, error: SwitchyardError, id?: string): void {
    this.#o.metrics.rejected.inc({ code: error.code });
    this.#error(client, error, id);
    if (++client.badFrames > this.#o.limits.maxBadFrames) client.ws.close(1008, "too many bad frames");
  }

  #receive(client: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.#bad(client, new SwitchyardError("MALFORMED", "frames are JSON text, not binary"));
      return;
    }
    const { limits, sequencer } = this.#o;
    let json: unknown;
    try {
      json = parseJsonLimited(data.toString(), { maxBytes: limits.maxFrameBytes, maxDepth: limits.maxDepth });
    } catch (error) {
      this.#bad(client, asSwitchyardError(error));
      return;
    }
    const frame = clientFrameSchema.safeParse(json);
    const rawId = (json as { id?: unknown } | null)?.id;
    const id = typeof rawId === "string" && rawId.length <= 64 ? rawId : undefined;
    if (!frame.success) {
      const issue = frame.error.issues[0];
      this.#bad(
        client,
        new SwitchyardError(
          "MALFORMED",
          `frame: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
        ),
        id,
      );
      return;
    }
    if (client.inFlight >= limits.maxInFlight) {
      this.#bad(
        client,
        new SwitchyardError(
          "TOO_LARGE",
          `at most ${limits.maxInFlight} submissions in flight per stream; wait for receipts`,
        ),
        frame.data.id,
      );
      return;
    }
    let env: ReturnType<typeof decodeEnvelope>;
    try {
      env = decodeEnvelope(frame.data.envelope, sequencer.state.net ?? "");
    } catch (error) {
      this.#bad(client, asSwitchyardError(error), frame.data.id);
      return;
    }
    client.inFlight++;
    sequencer.submit(env).then(
      (receipt) => {
        client.inFlight--;
        this.#send(
          client,
          JSON.stringify({ type: "receipt", id: frame.data.id, receipt } satisfies StreamFrame),
        );
      },
      (error: unknown) => {
        client.inFlight--;
        this.#error(client, isSwitchyardError(error) ? error : asSwitchyardError(error), frame.data.id);
      },
    );
  }
}
