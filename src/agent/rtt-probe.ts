/**
 * Live network coordinates (DESIGN.md §4, docs/routing.md "Live coordinates"): every interval the
 * agent pings a few peers over the real transport — its own `fetch`, which on a local network pays
 * the emulated latency between the two cities — takes the median of a few pings per peer as the
 * round trip, and moves its Vivaldi coordinate (src/core/routing/vivaldi.ts) after each sample.
 * When the coordinate has moved by more than a threshold it signs a `reportCoordinate`, so the
 * coordinator can predict the RTT between any two nodes without anyone probing every pair.
 *
 * Wire (on the agent's HTTP server, beside the blobs): `GET /v1/ping` → `{ node, coordinate? }`
 * (api.ts `pingReplySchema`). The reply names the node that answered — a prober discards a sample
 * from anyone but the peer it meant — and carries the answerer's current coordinate, which the
 * prober's update needs (Vivaldi moves a node against its peer's coordinate and error estimate).
 *
 * Peers rotate through every registered node with an endpoint, in id order, starting after this
 * node's own id (so agents that start together do not all probe the same peers first). Clock and
 * timers are injected, so the whole probe runs under a test's control.
 */
import { Hono } from "hono";
import {
  coordinateFromVivaldi,
  geoPriorCoordinate,
  updateCoordinate,
  type VivaldiCoordinate,
  vivaldiFromCoordinate,
} from "../core/index.ts";
import { type NodeView, type PingReply, pingPath, pingReplySchema } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { GeoPoint } from "../protocol/geo.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import { type JsonLimits, parseJsonLimited } from "../protocol/json.ts";
import type { NetworkCoordinate } from "../protocol/network-coordinate.ts";
import type { FetchLike } from "../sdk/create-client.ts";

/** The timers the probe uses: the global ones by default (unref'd), a test's fake ones otherwise. */
export interface ProbeTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** How often and how much the probe measures, and when it reports. */
export interface RttProbeSettings {
  /** Time between the end of one round and the start of the next (default 5 s). */
  readonly intervalMs?: number;
  /** Peers measured per round (default 3). */
  readonly peersPerRound?: number;
  /** Pings per peer; the sample is their median (default 3). */
  readonly pingsPerPeer?: number;
  /** A ping not answered within this is lost (default 3 s). */
  readonly pingTimeoutMs?: number;
  /**
   * Report again once the coordinate moved this far from the last report, ms (distance between the
   * points plus the change of height; default 1 ms): below it, no prediction changes by more.
   */
  readonly publishThresholdMs?: number;
}

export interface RttProbeOptions extends RttProbeSettings {
  /** This node's id; never probed, and the reply to our own ping. */
  readonly self: PublicKeyHex;
  /** Where this node is: the coordinate starts at the geographic prior there. */
  readonly location: GeoPoint;
  /** The registered nodes (the agent passes `getNodes` over the SDK). */
  readonly nodes: () => Promise<readonly NodeView[]>;
  /** The real transport to the peers (the agent's fetch, with the emulated latency in local mode). */
  readonly fetch: FetchLike;
  /** Sign and submit `reportCoordinate` (the agent passes `signAndSubmit`). */
  readonly publish: (coordinate: NetworkCoordinate) => Promise<void>;
  /** Aborting it stops the rounds and cancels pings in flight. */
  readonly signal: AbortSignal;
  /** Monotonic clock in ms (default `performance.now`). */
  readonly now?: () => number;
  readonly timers?: ProbeTimers;
  /** A round or a report that failed; the probe carries on with the next round. */
  readonly onError?: (error: unknown) => void;
  /** A coordinate was reported. */
  readonly onPublish?: (coordinate: NetworkCoordinate, round: ProbeRound) => void;
}

/** One peer's measurement in a round: the median RTT of the pings answered, if any were. */
export interface PeerSample {
  /** The peer's node id. */
  readonly peer: string;
  /** Pings answered by the peer (lost, timed-out and foreign answers do not count). */
  readonly answered: number;
  readonly rttMs?: number;
}

export interface ProbeRound {
  /** 1 for the first round. */
  readonly round: number;
  readonly samples: readonly PeerSample[];
  /** The coordinate after the round. */
  readonly coordinate: VivaldiCoordinate;
  /** Whether the round reported the coordinate to the coordinator. */
  readonly published: boolean;
}

export interface RttProbe {
  /** The current coordinate (the geographic prior before any sample). */
  coordinate(): VivaldiCoordinate;
  /** The integer form served in ping replies and reported. */
  networkCoordinate(): NetworkCoordinate;
  /** Runs one round now, after the round in progress, if any. Rejects once the signal aborted. */
  round(): Promise<ProbeRound>;
  /** Runs a round every `intervalMs` (the first one interval from now) until the signal aborts. */
  start(): void;
  /** Resolves once the signal aborted and the round in progress, if any, ended. */
  stopped(): Promise<void>;
}

export const defaultRttProbeSettings = {
  intervalMs: 5_000,
  peersPerRound: 3,
  pingsPerPeer: 3,
  pingTimeoutMs: 3_000,
  publishThresholdMs: 1,
} as const satisfies Required<RttProbeSettings>;

/** A ping reply is ~250 bytes; anything far larger or deeper is not one. */
const pingJsonLimits: JsonLimits = { maxBytes: 4096, maxDepth: 4 };

const systemTimers: ProbeTimers = {
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, ms);
    // A pending round must not keep a process alive that has nothing else to do.
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The agent's ping route: `GET /v1/ping` → `{ node, coordinate? }`.
 *
 * ```ts
 * app.route("/", pingRoutes(ctx.me, () => probe?.networkCoordinate()));
 * ```
 */
export function pingRoutes(self: PublicKeyHex, coordinate: () => NetworkCoordinate | undefined): Hono {
  const app = new Hono();
  app.get(pingPath, (c) => {
    const current = coordinate();
    const reply: PingReply = { node: self, ...(current === undefined ? {} : { coordinate: current }) };
    return c.json(reply);
  });
  return app;
}

/**
 * Creates the probe; `start()` begins the rounds.
 *
 * @example
 * const probe = createRttProbe({
 *   self: ctx.me, location: { latE6, lonE6 }, nodes: () => getNodes(ctx.client), fetch: ctx.fetch,
 *   publish: (coordinate) => signAndSubmit(ctx.client, { identity, type: "reportCoordinate", body: { coordinate } }).then(() => {}),
 *   signal: ctx.signal,
 * });
 * probe.start();
 */
export function createRttProbe(options: RttProbeOptions): RttProbe {
  const settings = { ...defaultRttProbeSettings, ...definedSettings(options) };
  checkSettings(settings);
  const now = options.now ?? (() => performance.now());
  const timers = options.timers ?? systemTimers;
  const { signal } = options;
  const selfNumber = idNumber(options.self);

  let current = geoPriorCoordinate(options.location);
  let lastPublished: NetworkCoordinate | undefined;
  let samplesTaken = 0;
  let rounds = 0;
  /** The last peer probed: the rotation continues after it. */
  let lastPeer: string = options.self;
  let chain: Promise<unknown> = Promise.resolve();
  let started = false;

  /** The peers of this round: the next `peersPerRound` registered nodes with an endpoint, by id. */
  function pickPeers(nodes: readonly NodeView[]): NodeView[] {
    const candidates = nodes
      .filter((n) => n.id !== options.self && n.endpoint !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (candidates.length === 0) return [];
    const after = candidates.findIndex((n) => n.id > lastPeer);
    const start = after === -1 ? 0 : after;
    const picked: NodeView[] = [];
    for (let k = 0; k < Math.min(settings.peersPerRound, candidates.length); k++) {
      picked.push(candidates[(start + k) % candidates.length]!);
    }
    lastPeer = picked[picked.length - 1]!.id;
    return picked;
  }

  /** One timed ping; `undefined` when it is lost. Throws only when the probe is stopping. */
  async function ping(peer: NodeView): Promise<{ rttMs: number; reply: PingReply } | undefined> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = timers.setTimeout(() => controller.abort(), settings.pingTimeoutMs);
    try {
      const sentAt = now();
      // As blob fetches do: the endpoint is a base URL, the path goes after it.
      const response = await options.fetch(`${peer.endpoint!.replace(/\/+$/, "")}${pingPath}`, {
        signal: controller.signal,
      });
      const text = await response.text();
      const rttMs = now() - sentAt;
      const reply = pingReplySchema.safeParse(parseJsonLimited(text, pingJsonLimits));
      // A foreign or broken answer says nothing about the way to this peer.
      if (!response.ok || !reply.success || reply.data.node !== peer.id) return undefined;
      return { rttMs, reply: reply.data };
    } catch (error) {
      if (signal.aborted) throw error;
      return undefined;
    } finally {
      timers.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** `pingsPerPeer` pings one after the other; the median RTT and the last coordinate the peer sent. */
  async function measure(peer: NodeView): Promise<{ sample: PeerSample; coordinate?: NetworkCoordinate }> {
    const rtts: number[] = [];
    let coordinate: NetworkCoordinate | undefined;
    for (let k = 0; k < settings.pingsPerPeer; k++) {
      const answer = await ping(peer);
      if (answer === undefined) continue;
      rtts.push(answer.rttMs);
      coordinate = answer.reply.coordinate ?? coordinate;
    }
    const rttMs = median(rtts);
    const sample = { peer: peer.id, answered: rtts.length, ...(rttMs === undefined ? {} : { rttMs }) };
    return coordinate === undefined ? { sample } : { sample, coordinate };
  }

  /** Before the first sample, continue from the coordinate this node reported in an earlier run. */
  function resumeFrom(nodes: readonly NodeView[]): void {
    if (samplesTaken > 0 || lastPublished !== undefined) return;
    const stored = nodes.find((n) => n.id === options.self)?.coordinate;
    if (stored === undefined) return;
    const { vectorUs, heightUs, errorPpm } = stored;
    lastPublished = { vectorUs, heightUs, errorPpm };
    current = vivaldiFromCoordinate(lastPublished);
  }

  async function publishIfMoved(): Promise<boolean> {
    if (samplesTaken === 0) return false;
    const next = coordinateFromVivaldi(current);
    if (lastPublished !== undefined && displacementMs(lastPublished, next) < settings.publishThresholdMs) {
      return false;
    }
    try {
      await options.publish(next);
    } catch (error) {
      // The next round tries again: lastPublished still says what the coordinator holds.
      options.onError?.(error);
      return false;
    }
    lastPublished = next;
    return true;
  }

  async function runRound(): Promise<ProbeRound> {
    const nodes = await options.nodes();
    resumeFrom(nodes);
    const peers = pickPeers(nodes);
    const measured = await Promise.all(peers.map(measure));
    // Updates are applied in the order the peers were picked, not the order answers came in.
    for (const [k, peer] of peers.entries()) {
      const { sample, coordinate } = measured[k]!;
      if (sample.rttMs === undefined) continue;
      const peerCoordinate =
        coordinate !== undefined
          ? vivaldiFromCoordinate(coordinate)
          : peer.coordinate !== undefined
            ? vivaldiFromCoordinate(peer.coordinate)
            : geoPriorCoordinate(peer);
      current = updateCoordinate(current, peerCoordinate, sample.rttMs, selfNumber, idNumber(peer.id));
      samplesTaken++;
    }
    const published = await publishIfMoved();
    const report: ProbeRound = {
      round: ++rounds,
      samples: measured.map((m) => m.sample),
      coordinate: current,
      published,
    };
    if (published) options.onPublish?.(lastPublished!, report);
    return report;
  }

  function round(): Promise<ProbeRound> {
    const run = chain.then(() => {
      signal.throwIfAborted();
      return runRound();
    });
    chain = run.catch(() => {});
    return run;
  }

  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });

  function start(): void {
    if (started || signal.aborted) return;
    started = true;
    let timer: unknown;
    const schedule = () => {
      if (signal.aborted) return;
      timer = timers.setTimeout(() => {
        timer = undefined;
        round()
          .catch((error: unknown) => {
            if (!signal.aborted) options.onError?.(error);
          })
          .finally(schedule);
      }, settings.intervalMs);
    };
    signal.addEventListener(
      "abort",
      () => {
        if (timer !== undefined) timers.clearTimeout(timer);
      },
      { once: true },
    );
    schedule();
  }

  return {
    coordinate: () => current,
    networkCoordinate: () => coordinateFromVivaldi(current),
    round,
    start,
    stopped: () => aborted.then(() => chain).then(() => {}),
  };
}

function definedSettings(options: RttProbeSettings): RttProbeSettings {
  const out: Record<string, number> = {};
  for (const key of Object.keys(defaultRttProbeSettings) as (keyof RttProbeSettings)[]) {
    const value = options[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function checkSettings(settings: Required<RttProbeSettings>): void {
  for (const [key, value] of Object.entries(settings)) {
    const ok =
      key === "publishThresholdMs"
        ? Number.isFinite(value) && value >= 0
        : Number.isSafeInteger(value) && value >= 1;
    if (!ok) {
      throw new SwitchyardError(
        "MALFORMED",
        `rttProbe.${key} must be ${key === "publishThresholdMs" ? "a number ≥ 0" : "a whole number ≥ 1"}, got ${value}`,
      );
    }
  }
}

/** The middle value (the mean of the middle two for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** How far a coordinate moved, ms: the distance between the points plus the change of height. */
function displacementMs(a: NetworkCoordinate, b: NetworkCoordinate): number {
  let s = 0;
  for (let k = 0; k < a.vectorUs.length; k++) {
    const d = (a.vectorUs[k]! - (b.vectorUs[k] ?? 0)) / 1000;
    s += d * d;
  }
  return Math.sqrt(s) + Math.abs(a.heightUs - b.heightUs) / 1000;
}

/** A small number from a node id for the Vivaldi tie-break (coincident points): its first 32 bits. */
function idNumber(id: string): number {
  return Number.parseInt(id.slice(0, 8), 16) || 0;
}
