/**
 * Serves an agent's blobs to the next stage's provider (api.ts `blobPaths`): a manifest with the
 * SHA-256 of every chunk, then the chunks as octet streams, so a fetcher checks each chunk as it
 * arrives and refetches only a bad one. Only blobs in this agent's BlobStore are served, and the
 * number of requests in flight is bounded: beyond it the answer is 503 with Retry-After, which
 * fetchers treat as "back off and retry", so a burst of fetchers cannot exhaust the agent.
 */
import { Hono } from "hono";
import { blobPaths } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { sha256Hex } from "../protocol/hash.ts";
import type { Cid } from "../protocol/ids.ts";
import { type BlobStore, checkCid } from "../store/blob-store.ts";
import { type AgentHttpServer, errorResponse, limitInFlight, type RequestCounts, serveApp } from "./http.ts";

/** 256 KiB: large enough that per-request overhead is small, small enough that a refetch is cheap. */
export const defaultChunkSize = 256 * 1024;

export interface BlobServerOptions {
  readonly blobs: BlobStore;
  /** Bytes per chunk (default 256 KiB). */
  readonly chunkSize?: number;
  /** Requests served at once; more get 503 (default 32). */
  readonly maxConcurrent?: number;
  /** Blob bytes kept in memory so chunk requests do not re-read and re-hash the blob (default 64 MiB). */
  readonly cacheBytes?: number;
}

export interface BlobServerStats {
  readonly requests: number;
  /** Chunk payload bytes sent. */
  readonly bytesServed: number;
  /** Requests refused with 503 because too many were in flight. */
  readonly rejected: number;
}

export interface BlobRoutes {
  /** Routes under `/blobs/`; mount on the agent's app or serve alone. */
  readonly app: Hono;
  stats(): BlobServerStats;
}

interface Prepared {
  readonly bytes: Uint8Array;
  readonly chunks: readonly string[];
}

/**
 * The blob routes of an agent over `blobs`.
 *
 * ```ts
 * const routes = blobRoutes({ blobs: filesystemBlobStore("data/blobs") });
 * app.route("/", routes.app);
 * ```
 */
export function blobRoutes(options: BlobServerOptions): BlobRoutes {
  const chunkSize = options.chunkSize ?? defaultChunkSize;
  const maxConcurrent = options.maxConcurrent ?? 32;
  const cacheBytes = options.cacheBytes ?? 64 << 20;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new SwitchyardError("MALFORMED", `chunk size must be a positive integer, got ${chunkSize}`);
  }
  const cache = new Map<Cid, Prepared>();
  let cached = 0;
  const counts: RequestCounts = { requests: 0, rejected: 0 };
  let bytesServed = 0;

  /** The blob and its chunk hashes, from the cache or read (and verified) from the store. */
  async function prepare(cid: Cid): Promise<Prepared> {
    const hit = cache.get(cid);
    if (hit !== undefined) {
      cache.delete(cid); // re-insert: Map order is the LRU order
      cache.set(cid, hit);
      return hit;
    }
    const bytes = await options.blobs.get(cid);
    const chunks: string[] = [];
    for (let at = 0; at < bytes.length; at += chunkSize) {
      chunks.push(sha256Hex(bytes.subarray(at, Math.min(bytes.length, at + chunkSize))));
    }
    const prepared = { bytes, chunks };
    if (bytes.length <= cacheBytes) {
      cache.set(cid, prepared);
      cached += bytes.length;
      for (const [oldest, entry] of cache) {
        if (cached <= cacheBytes) break;
        cache.delete(oldest);
        cached -= entry.bytes.length;
      }
    }
    return prepared;
  }

  const app = new Hono();
  app.use("/blobs/*", limitInFlight(maxConcurrent, "blob", counts));
  app.get(blobPaths.manifest, async (c) => {
    try {
      const cid = checkCid(c.req.param("cid") ?? "");
      const { bytes, chunks } = await prepare(cid);
      return c.json({ cid, size: bytes.length, chunkSize, chunks });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.get(blobPaths.chunk, async (c) => {
    try {
      const cid = checkCid(c.req.param("cid") ?? "");
      const text = c.req.param("index") ?? "";
      const index = /^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : Number.NaN;
      if (Number.isNaN(index))
        throw new SwitchyardError("MALFORMED", `chunk index '${text.slice(0, 20)}' is not a count`);
      const { bytes, chunks } = await prepare(cid);
      if (index >= chunks.length) {
        throw new SwitchyardError(
          "NOT_FOUND",
          `blob ${cid.slice(0, 12)}… has ${chunks.length} chunks, not ${index + 1}`,
          {
            details: { cid, index, chunks: chunks.length },
          },
        );
      }
      const chunk = bytes.subarray(index * chunkSize, Math.min(bytes.length, (index + 1) * chunkSize));
      bytesServed += chunk.length;
      return c.body(chunk as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  return { app, stats: () => ({ requests: counts.requests, bytesServed, rejected: counts.rejected }) };
}

export interface StartBlobServerOptions extends BlobServerOptions {
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: any free port). */
  readonly port?: number;
}

export interface BlobServer extends AgentHttpServer {
  stats(): BlobServerStats;
}

/**
 * A server with only the blob routes: for tests and for agents that serve nothing else.
 *
 * ```ts
 * const server = await startBlobServer({ blobs, port: 0 });
 * console.log(`${server.url}/blobs/${cid}/manifest`);
 * await server.close();
 * ```
 */
export async function startBlobServer(options: StartBlobServerOptions): Promise<BlobServer> {
  const routes = blobRoutes(options);
  const server = await serveApp(routes.app, options.host ?? "127.0.0.1", options.port ?? 0);
  return { ...server, stats: routes.stats };
}
