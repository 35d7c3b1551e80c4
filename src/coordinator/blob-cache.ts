/**
 * The coordinator's blob cache (docs/coordinator.md, "Blob cache"): a bounded, in-memory,
 * content-addressed store where a running provider mirrors the checkpoint state it is about to
 * report, so the state outlives the provider (failover, docs/routing.md). Served in the chunked
 * layout of the agents' blob servers (api.ts `blobPaths` under `/v1`), so `fetchBlob` takes the
 * coordinator as one more source: `${coordinatorUrl}/v1`.
 *
 * Why it is safe to trust nobody here: a blob is accepted only if its bytes hash to the content id
 * it is put under, and every reader checks the bytes against the content id the log names (the
 * provider's signed `reportProgress`) — and the resuming provider checks the state against the
 * reported checkpoint hash. The coordinator can drop or lose a blob, never forge one. Anyone may
 * put, so a flood can evict what a provider mirrored; the cost of that is a resume from scratch.
 */
import type { HttpBindings } from "@hono/node-server";
import type { Context, Hono } from "hono";
import { apiPaths } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { contentId, sha256Hex } from "../protocol/hash.ts";
import type { Cid } from "../protocol/ids.ts";
import { checkCid } from "../store/blob-store.ts";
import { readBodyBytes } from "./body.ts";

export interface BlobCacheLimits {
  /** Largest blob accepted (default 16 MiB: a checkpoint state of the built-in programs is < 1 MiB). */
  readonly maxBlobBytes?: number;
  /** Bytes held in all; the least recently used blobs are evicted beyond it (default 256 MiB). */
  readonly maxTotalBytes?: number;
  /** Bytes per served chunk (default 256 KiB, as the agents' blob servers). */
  readonly chunkSize?: number;
}

interface Entry {
  readonly bytes: Uint8Array;
  /** SHA-256 of each chunk, in order: the manifest fetchers check every chunk against. */
  readonly chunks: readonly string[];
}

export interface BlobCacheStats {
  readonly blobs: number;
  readonly bytes: number;
  readonly evicted: number;
}

export interface BlobCache {
  /** Keeps `bytes` under `cid`. MALFORMED if they do not hash to it, TOO_LARGE over the blob limit. */
  put(cid: string, bytes: Uint8Array): void;
  /** The blob and its chunk hashes (a read counts as a use), or NOT_FOUND. */
  get(cid: string): Entry;
  readonly chunkSize: number;
  readonly maxBlobBytes: number;
  stats(): BlobCacheStats;
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new SwitchyardError("MALFORMED", `blob cache ${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * A blob cache bounded per blob and in total, least recently used first out.
 *
 * @example
 * const cache = createBlobCache({ maxTotalBytes: 64 << 20 });
 * cache.put(contentId(bytes), bytes);
 * cache.get(contentId(bytes)).bytes; // the same bytes
 */
export function createBlobCache(limits: BlobCacheLimits = {}): BlobCache {
  const maxBlobBytes = positive(limits.maxBlobBytes ?? 16 << 20, "maxBlobBytes");
  const maxTotalBytes = positive(limits.maxTotalBytes ?? 256 << 20, "maxTotalBytes");
  const chunkSize = positive(limits.chunkSize ?? 256 * 1024, "chunkSize");
  // Map order is the LRU order: a use re-inserts.
  const entries = new Map<Cid, Entry>();
  let total = 0;
  let evicted = 0;
  return {
    chunkSize,
    maxBlobBytes,
    put(text, bytes) {
      const cid = checkCid(text);
      if (bytes.length > maxBlobBytes) {
        throw new SwitchyardError(
          "TOO_LARGE",
          `blob is ${bytes.length} bytes; the cache takes at most ${maxBlobBytes}`,
          {
            details: { bytes: bytes.length, limit: maxBlobBytes },
          },
        );
      }
      const actual = contentId(bytes);
      if (actual !== cid) {
        throw new SwitchyardError(
          "MALFORMED",
          `the bytes hash to ${actual.slice(0, 12)}…, not to ${cid.slice(0, 12)}…`,
          {
            details: { cid, actual },
          },
        );
      }
      const old = entries.get(cid);
      if (old !== undefined) {
        entries.delete(cid);
        entries.set(cid, old);
        return;
      }
      const chunks: string[] = [];
      for (let at = 0; at < bytes.length; at += chunkSize)
        chunks.push(sha256Hex(bytes.subarray(at, Math.min(bytes.length, at + chunkSize))));
      // A copy: the request's buffer may be a view of a larger one.
      entries.set(cid, { bytes: new Uint8Array(bytes), chunks });
      total += bytes.length;
      for (const [oldest, entry] of entries) {
        if (total <= maxTotalBytes) break;
        entries.delete(oldest);
        total -= entry.bytes.length;
        evicted++;
      }
    },
    get(text) {
      const cid = checkCid(text);
      const entry = entries.get(cid);
      if (entry === undefined)
        throw new SwitchyardError("NOT_FOUND", `the coordinator holds no blob ${cid.slice(0, 12)}…`, {
          details: { cid },
        });
      entries.delete(cid);
      entries.set(cid, entry);
      return entry;
    },
    stats: () => ({ blobs: entries.size, bytes: total, evicted }),
  };
}

/**
 * Mounts the cache's routes on the API: PUT `/v1/blobs/:cid` (body = the bytes; 204), and the
 * manifest and chunk GETs of the agents' layout under `/v1`.
 */
export function mountBlobCache(app: Hono<{ Bindings: HttpBindings }>, cache: BlobCache): void {
  app.put(apiPaths.blob, async (c) => {
    const cid = checkCid(c.req.param("cid") ?? "");
    cache.put(cid, await readBodyBytes(c.env.incoming, cache.maxBlobBytes));
    return c.body(null, 204);
  });
  app.get(apiPaths.blobManifest, (c) => {
    const cid = checkCid(c.req.param("cid") ?? "");
    const { bytes, chunks } = cache.get(cid);
    return c.json({ cid, size: bytes.length, chunkSize: cache.chunkSize, chunks });
  });
  app.get(apiPaths.blobChunk, (c: Context<{ Bindings: HttpBindings }>) => {
    const cid = checkCid(c.req.param("cid") ?? "");
    const text = c.req.param("index") ?? "";
    const index = /^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : Number.NaN;
    if (Number.isNaN(index))
      throw new SwitchyardError("MALFORMED", `chunk index '${text.slice(0, 20)}' is not a count`);
    const { bytes, chunks } = cache.get(cid);
    if (index >= chunks.length) {
      throw new SwitchyardError(
        "NOT_FOUND",
        `blob ${cid.slice(0, 12)}… has ${chunks.length} chunks, not ${index + 1}`,
        {
          details: { cid, index, chunks: chunks.length },
        },
      );
    }
    const chunk = bytes.subarray(
      index * cache.chunkSize,
      Math.min(bytes.length, (index + 1) * cache.chunkSize),
    );
    return c.body(chunk as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" });
  });
}
