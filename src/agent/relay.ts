/**
 * The relay role (DESIGN.md §4 "Routing and connectivity"): an agent that forwards content-addressed
 * blobs between two providers that cannot reach each other directly, or reach each other slowly.
 *
 *   GET /v1/relay/:cid?from=<origin>&job=<jobId>                the whole blob
 *   GET /v1/relay/:cid/manifest?from=<origin>&job=<jobId>       the manifest (as blob-server.ts)
 *   GET /v1/relay/:cid/chunks/:index?from=<origin>&job=<jobId>  one chunk
 *   GET /v1/relay-accounting                                     bytes and fees per job
 *
 * On the first request for a cid the relay fetches the blob from the origin agent's blob server
 * (fetchBlob: chunked, every chunk checked against the manifest, the whole against the cid), keeps
 * it in a bounded LRU by cid, and serves it with its own manifest so the next hop checks every chunk
 * too. Concurrent requests for one cid share one origin fetch.
 *
 * **A relay only ever handles sealed blobs** (protocol/job-crypto.node.ts). It never holds a stage
 * key (core/routing/key-release.ts), and it refuses, without caching, bytes that are not shaped like
 * a sealed blob. That check is a tripwire against a provider that forgot to seal — the relay has
 * already received those bytes when it finds out — not the guarantee: the guarantee is that a
 * provider seals before it publishes, and that without the key the ciphertext opens to nothing.
 *
 * Accounting: per job, the ciphertext bytes pulled from origins and the bytes forwarded (what the
 * relay is paid for, at `pricePerGigabyte`), for settlement by the coordinator later.
 */
import { Hono } from "hono";
import { bandwidthFee } from "../core/routing/relay-path.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { sha256Hex } from "../protocol/hash.ts";
import type { Cid, JobId } from "../protocol/ids.ts";
import { readSealedHeader } from "../protocol/job-crypto.node.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import { checkCid } from "../store/blob-store.ts";
import { type BlobUrls, fetchBlob } from "./blob-fetch.ts";
import { defaultChunkSize } from "./blob-server.ts";
import { type AgentHttpServer, errorResponse, limitInFlight, type RequestCounts, serveApp } from "./http.ts";

export const relayPaths = {
  blob: "/v1/relay/:cid",
  manifest: "/v1/relay/:cid/manifest",
  chunk: "/v1/relay/:cid/chunks/:index",
  accounting: "/v1/relay-accounting",
} as const;

export interface RelayOptions {
  /** Ciphertext kept in memory by cid (default 256 MiB); also the largest blob relayed. */
  readonly cacheBytes?: number;
  /** Bytes per served chunk (default 256 KiB, as the blob server). */
  readonly chunkSize?: number;
  /** Requests served at once; more get 503 with Retry-After (default 32). */
  readonly maxConcurrent?: number;
  /** The relay's price, micro-credits per 10^9 bytes forwarded (default 0). */
  readonly pricePerGigabyte?: bigint;
  /** Which origins the relay will fetch from (default: any http(s) URL). */
  readonly allowOrigin?: (origin: string) => boolean;
  /** Fetch to origins: the hook for latency emulation (default the global fetch). */
  readonly fetch?: FetchLike;
  /** Tries per origin request, first retry delay, cap (fetchBlob's defaults otherwise). */
  readonly attempts?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface RelayJobAccount {
  readonly jobId: JobId;
  /** Ciphertext pulled from origins for this job (once per cid; later requests hit the cache). */
  readonly bytesReceived: number;
  /** Ciphertext served for this job: what the relay is paid for. */
  readonly bytesForwarded: number;
  readonly requests: number;
  /** `bytesForwarded` at the relay's price, micro-credits, rounded up. */
  readonly fee: bigint;
}

export interface RelayAccounting {
  readonly pricePerGigabyte: bigint;
  /** One entry per job, in job id order. */
  readonly jobs: readonly RelayJobAccount[];
}

export interface RelayStats {
  readonly requests: number;
  /** Refused with 503 because too many were in flight. */
  readonly rejected: number;
  /** Blobs fetched from an origin (cache misses that succeeded). */
  readonly originFetches: number;
  /** Blobs fetched and then refused because they were not sealed. */
  readonly refusedUnsealed: number;
  readonly cachedBlobs: number;
  readonly cachedBytes: number;
}

export interface RelayRoutes {
  /** Routes under `/v1/relay/` and `/v1/relay-accounting`; mount on an agent's app or serve alone. */
  readonly app: Hono;
  accounting(): RelayAccounting;
  stats(): RelayStats;
}

/**
 * The URL layout of a relay for {@link fetchBlob}: a receiver fetches through the relay exactly as
 * from a blob server, chunk by checked chunk.
 *
 * @example
 * await fetchBlob({ cid, sources: [relayUrl], urls: relayUrls(originUrl, jobId) });
 */
export function relayUrls(origin: string, jobId: JobId): BlobUrls {
  const query = `?from=${encodeURIComponent(origin)}&job=${jobId}`;
  return {
    manifest: (base, cid) => base + relayPaths.manifest.replace(":cid", cid) + query,
    chunk: (base, cid, index) =>
      base + relayPaths.chunk.replace(":cid", cid).replace(":index", String(index)) + query,
  };
}

interface Cached {
  readonly bytes: Uint8Array;
  readonly chunks: readonly string[];
}

interface Account {
  bytesReceived: number;
  bytesForwarded: number;
  requests: number;
}

/**
 * The relay routes.
 *
 * ```ts
 * const relay = relayRoutes({ pricePerGigabyte: 20_000n });
 * app.route("/", relay.app);
 * // later: relay.accounting().jobs → bytes forwarded and fee per job
 * ```
 */
export function relayRoutes(options: RelayOptions = {}): RelayRoutes {
  const cacheBytes = options.cacheBytes ?? 256 << 20;
  const chunkSize = options.chunkSize ?? defaultChunkSize;
  const maxConcurrent = options.maxConcurrent ?? 32;
  const price = options.pricePerGigabyte ?? 0n;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new SwitchyardError("MALFORMED", `chunk size must be a positive integer, got ${chunkSize}`);
  }
  if (price < 0n) throw new SwitchyardError("MALFORMED", "a relay price cannot be negative");
  const cache = new Map<Cid, Cached>();
  const pulling = new Map<Cid, Promise<Cached>>();
  const accounts = new Map<JobId, Account>();
  let cached = 0;
  const counts: RequestCounts = { requests: 0, rejected: 0 };
  let originFetches = 0;
  let refusedUnsealed = 0;

  const account = (jobId: JobId): Account => {
    let a = accounts.get(jobId);
    if (a === undefined) {
      a = { bytesReceived: 0, bytesForwarded: 0, requests: 0 };
      accounts.set(jobId, a);
    }
    return a;
  };

  async function pull(cid: Cid, origin: string, jobId: JobId): Promise<Cached> {
    const result = await fetchBlob({
      cid,
      sources: [origin],
      maxBytes: cacheBytes,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
      ...(options.initialDelayMs === undefined ? {} : { initialDelayMs: options.initialDelayMs }),
      ...(options.maxDelayMs === undefined ? {} : { maxDelayMs: options.maxDelayMs }),
    });
    account(jobId).bytesReceived += result.bytesReceived;
    try {
      readSealedHeader(result.bytes);
    } catch (cause) {
      refusedUnsealed++;
      throw new SwitchyardError(
        "MALFORMED",
        `relays forward only sealed blobs; ${cid.slice(0, 12)}… from ${origin} is not one (seal it with the stage key first)`,
        { details: { cid, origin }, cause },
      );
    }
    originFetches++;
    const chunks: string[] = [];
    for (let at = 0; at < result.bytes.length; at += chunkSize) {
      chunks.push(sha256Hex(result.bytes.subarray(at, Math.min(result.bytes.length, at + chunkSize))));
    }
    const entry = { bytes: result.bytes, chunks };
    cache.set(cid, entry);
    cached += entry.bytes.length;
    for (const [oldest, old] of cache) {
      if (cached <= cacheBytes) break;
      cache.delete(oldest);
      cached -= old.bytes.length;
    }
    return entry;
  }

  /** The blob from the cache, or pulled from the origin once however many ask at the same time. */
  function obtain(cid: Cid, origin: string, jobId: JobId): Promise<Cached> {
    const hit = cache.get(cid);
    if (hit !== undefined) {
      cache.delete(cid); // re-insert: Map order is the LRU order
      cache.set(cid, hit);
      return Promise.resolve(hit);
    }
    let pending = pulling.get(cid);
    if (pending === undefined) {
      pending = pull(cid, origin, jobId).finally(() => pulling.delete(cid));
      pulling.set(cid, pending);
    }
    return pending;
  }

  /** The checked request parameters, and the blob. */
  async function prepare(c: {
    req: { param(name: string): string | undefined; query(name: string): string | undefined };
  }): Promise<{ jobId: JobId; entry: Cached; cid: Cid }> {
    const cid = checkCid(c.req.param("cid") ?? "");
    const jobId = checkJobId(c.req.query("job"));
    const origin = checkOrigin(c.req.query("from"));
    if (options.allowOrigin !== undefined && !options.allowOrigin(origin)) {
      throw new SwitchyardError("NOT_AUTHORIZED", `this relay does not fetch from ${origin}`, {
        details: { origin },
      });
    }
    account(jobId).requests++;
    return { jobId, cid, entry: await obtain(cid, origin, jobId) };
  }

  const app = new Hono();
  app.use("/v1/relay/*", limitInFlight(maxConcurrent, "relay", counts));

  app.get(relayPaths.manifest, async (c) => {
    try {
      const { cid, entry } = await prepare(c);
      return c.json({ cid, size: entry.bytes.length, chunkSize, chunks: entry.chunks });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.get(relayPaths.chunk, async (c) => {
    try {
      const text = c.req.param("index") ?? "";
      const index = /^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : Number.NaN;
      if (Number.isNaN(index)) {
        throw new SwitchyardError("MALFORMED", `chunk index '${text.slice(0, 20)}' is not a count`);
      }
      const { jobId, cid, entry } = await prepare(c);
      if (index >= entry.chunks.length) {
        throw new SwitchyardError(
          "NOT_FOUND",
          `blob ${cid.slice(0, 12)}… has ${entry.chunks.length} chunks, not ${index + 1}`,
          { details: { cid, index, chunks: entry.chunks.length } },
        );
      }
      const chunk = entry.bytes.subarray(
        index * chunkSize,
        Math.min(entry.bytes.length, (index + 1) * chunkSize),
      );
      account(jobId).bytesForwarded += chunk.length;
      return c.body(chunk as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.get(relayPaths.blob, async (c) => {
    try {
      const { jobId, entry } = await prepare(c);
      account(jobId).bytesForwarded += entry.bytes.length;
      return c.body(entry.bytes as Uint8Array<ArrayBuffer>, 200, {
        "content-type": "application/octet-stream",
      });
    } catch (error) {
      return errorResponse(c, error);
    }
  });

  const accounting = (): RelayAccounting => ({
    pricePerGigabyte: price,
    jobs: [...accounts]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([jobId, a]) => ({ jobId, ...a, fee: bandwidthFee(a.bytesForwarded, price) })),
  });
  app.get(relayPaths.accounting, (c) => {
    const { pricePerGigabyte, jobs } = accounting();
    return c.json({
      pricePerGigabyte: pricePerGigabyte.toString(),
      jobs: jobs.map((j) => ({ ...j, fee: j.fee.toString() })),
    });
  });

  return {
    app,
    accounting,
    stats: () => ({
      requests: counts.requests,
      rejected: counts.rejected,
      originFetches,
      refusedUnsealed,
      cachedBlobs: cache.size,
      cachedBytes: cached,
    }),
  };
}

export interface StartRelayOptions extends RelayOptions {
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: any free port). */
  readonly port?: number;
}

export interface RelayServer extends AgentHttpServer {
  accounting(): RelayAccounting;
  stats(): RelayStats;
}

/**
 * A server with only the relay routes.
 *
 * ```ts
 * const relay = await startRelay({ pricePerGigabyte: 20_000n });
 * await fetchBlob({ cid, sources: [relay.url], urls: relayUrls(originUrl, jobId) });
 * await relay.close();
 * ```
 */
export async function startRelay(options: StartRelayOptions = {}): Promise<RelayServer> {
  const routes = relayRoutes(options);
  const server = await serveApp(routes.app, options.host ?? "127.0.0.1", options.port ?? 0);
  return { ...server, accounting: routes.accounting, stats: routes.stats };
}

function checkJobId(job: string | undefined): JobId {
  if (job === undefined || !/^[0-9a-f]{64}$/.test(job)) {
    throw new SwitchyardError(
      "MALFORMED",
      "?job= must name the job whose data this is (64 lower-case hex digits)",
    );
  }
  return job as JobId;
}

/** An http(s) base URL without credentials, query or fragment; no trailing slash. */
function checkOrigin(from: string | undefined): string {
  const bad = (why: string) =>
    new SwitchyardError("MALFORMED", `?from= must be the origin agent's http(s) base URL: ${why}`);
  if (from === undefined || from.length === 0) throw bad("missing");
  if (from.length > 256) throw bad("longer than 256 characters");
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw bad(`'${from.slice(0, 80)}' is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad(`protocol ${url.protocol}`);
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw bad("no credentials, query or fragment");
  }
  return from.replace(/\/+$/, "");
}
