/**
 * Fetches a blob from the agents that serve it (blob-server.ts): the manifest first, then the
 * chunks a few at a time, each checked against the manifest's SHA-256 as it arrives; a bad chunk is
 * fetched once more, then the source is given up as CORRUPTED. The assembled blob must hash to its
 * content id — a manifest can be self-consistent and still describe other bytes. Network failures,
 * timeouts and 5xx (a busy server's 503) are retried with exponential backoff; then the next
 * source is tried. The `fetch` option is the hook for latency emulation: every request of the
 * transfer goes through it, so each pays the emulated round trip.
 */
import { type BlobManifest, blobManifestSchema, blobPaths } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { contentId, sha256Hex } from "../protocol/hash.ts";
import type { Cid } from "../protocol/ids.ts";
import { parseJsonLimited } from "../protocol/json.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import type { BlobStore } from "../store/blob-store.ts";

/** Where a source serves a blob's manifest and chunks. */
export interface BlobUrls {
  manifest(base: string, cid: Cid): string;
  chunk(base: string, cid: Cid, index: number): string;
}

/** The blob server's layout (api.ts `blobPaths`): `<base>/blobs/<cid>/manifest` and `…/chunks/<i>`. */
export const blobServerUrls: BlobUrls = {
  manifest: (base, cid) => base + blobPaths.manifest.replace(":cid", cid),
  chunk: (base, cid, index) => base + blobPaths.chunk.replace(":cid", cid).replace(":index", String(index)),
};

export interface FetchBlobOptions {
  readonly cid: Cid;
  /** Base URLs of agents that may hold the blob, tried in order. */
  readonly sources: readonly string[];
  /** How a source lays out its URLs (default {@link blobServerUrls}; a relay has its own). */
  readonly urls?: BlobUrls;
  /** Default the global fetch; pass a wrapper to emulate latency between the two agents' cities. */
  readonly fetch?: FetchLike;
  /** Where to put the blob once it is complete and verified. */
  readonly store?: BlobStore;
  /** Chunk requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Tries per request before a source is given up (default 4). */
  readonly attempts?: number;
  /** First retry delay, doubled each time (default 50 ms), up to `maxDelayMs` (default 2,000). */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Per-request timeout (default 30,000 ms). */
  readonly timeoutMs?: number;
  /** A manifest announcing more bytes is refused before anything is allocated (default 1 GiB). */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

export interface FetchBlobResult {
  readonly cid: Cid;
  readonly bytes: Uint8Array;
  /** The source the blob came from. */
  readonly source: string;
  readonly chunks: number;
  /** Everything received over HTTP for this transfer: manifests and chunks, including refetches. */
  readonly bytesReceived: number;
  readonly requests: number;
  readonly chunkRefetches: number;
  readonly ms: number;
}

/** Thrown after every source failed: CORRUPTED, NOT_FOUND, or UNREACHABLE. */
export type FetchBlobErrorType = SwitchyardError;

interface Counters {
  bytesReceived: number;
  requests: number;
  chunkRefetches: number;
}

class RetryableError extends Error {}

/**
 * Fetch `cid` from the first source that has it intact.
 *
 * ```ts
 * const { bytes, bytesReceived } = await fetchBlob({ cid, sources: [input.from], store: blobs });
 * ```
 */
export async function fetchBlob(options: FetchBlobOptions): Promise<FetchBlobResult> {
  const t0 = performance.now();
  const counters: Counters = { bytesReceived: 0, requests: 0, chunkRefetches: 0 };
  const failures: SwitchyardError[] = [];
  for (const source of options.sources) {
    try {
      const { bytes, chunks } = await fetchFrom(options, source.replace(/\/+$/, ""), counters);
      await options.store?.put(bytes);
      return { cid: options.cid, bytes, source, chunks, ...counters, ms: performance.now() - t0 };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      failures.push(
        error instanceof SwitchyardError ? error : new SwitchyardError("STORE_UNAVAILABLE", String(error)),
      );
    }
  }
  throw combined(options.cid, options.sources, failures);
}

/** The most telling of the sources' failures: corruption, then unreachability, then absence. */
function combined(
  cid: Cid,
  sources: readonly string[],
  failures: readonly SwitchyardError[],
): SwitchyardError {
  const details = { cid, sources: [...sources], failures: failures.map((f) => `${f.code}: ${f.message}`) };
  if (failures.length === 0) {
    return new SwitchyardError("NOT_FOUND", `no agent is known to serve blob ${cid.slice(0, 12)}…`, {
      details,
    });
  }
  const pick =
    failures.find((f) => f.code === "CORRUPTED") ??
    failures.find((f) => f.code !== "NOT_FOUND") ??
    failures[0]!;
  const where = sources.length === 1 ? sources[0] : `${sources.length} sources`;
  return new SwitchyardError(pick.code, `fetching blob ${cid.slice(0, 12)}… from ${where}: ${pick.message}`, {
    details,
    cause: pick,
  });
}

async function fetchFrom(
  options: FetchBlobOptions,
  base: string,
  counters: Counters,
): Promise<{ bytes: Uint8Array; chunks: number }> {
  const { cid } = options;
  const manifestUrl = (options.urls ?? blobServerUrls).manifest(base, cid);
  const manifest = parseManifest(
    options,
    new TextDecoder().decode(await get(options, manifestUrl, counters)),
  );
  const out = new Uint8Array(manifest.size);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < manifest.chunks.length; index = next++) {
      out.set(await fetchChunk(options, base, manifest, index, counters), index * manifest.chunkSize);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  const actual = contentId(out);
  if (actual !== cid) {
    throw new SwitchyardError(
      "CORRUPTED",
      `every chunk matched the manifest, but the blob hashes to ${actual.slice(0, 12)}…: the manifest describes other bytes`,
      { details: { cid, actual, source: base } },
    );
  }
  return { bytes: out, chunks: manifest.chunks.length };
}

function parseManifest(options: FetchBlobOptions, text: string): BlobManifest {
  const parsed = blobManifestSchema.safeParse(parseJsonLimited(text, { maxBytes: 16 << 20, maxDepth: 4 }));
  if (!parsed.success)
    throw new SwitchyardError("MALFORMED", `blob manifest: ${parsed.error.issues[0]?.message}`);
  const m = parsed.data;
  const maxBytes = options.maxBytes ?? 1 << 30;
  if (m.cid !== options.cid) {
    throw new SwitchyardError(
      "CORRUPTED",
      `asked for blob ${options.cid.slice(0, 12)}…, the manifest is for ${m.cid.slice(0, 12)}…`,
    );
  }
  if (m.size > maxBytes) {
    throw new SwitchyardError(
      "TOO_LARGE",
      `blob ${m.cid.slice(0, 12)}… is ${m.size} bytes; the limit is ${maxBytes}`,
    );
  }
  if (m.chunks.length !== Math.ceil(m.size / m.chunkSize)) {
    throw new SwitchyardError(
      "MALFORMED",
      `blob manifest lists ${m.chunks.length} chunks for ${m.size} bytes in chunks of ${m.chunkSize}`,
    );
  }
  return m;
}

async function fetchChunk(
  options: FetchBlobOptions,
  base: string,
  manifest: BlobManifest,
  index: number,
  counters: Counters,
): Promise<Uint8Array> {
  const url = (options.urls ?? blobServerUrls).chunk(base, manifest.cid as Cid, index);
  const expectedLength = Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
  for (let attempt = 0; ; attempt++) {
    const bytes = await get(options, url, counters);
    const actual = sha256Hex(bytes);
    if (bytes.length === expectedLength && actual === manifest.chunks[index]) return bytes;
    if (attempt === 0) {
      counters.chunkRefetches++;
      continue;
    }
    throw new SwitchyardError(
      "CORRUPTED",
      `chunk ${index} of blob ${manifest.cid.slice(0, 12)}… arrived twice with the wrong bytes (${bytes.length} bytes hashing to ${actual.slice(0, 12)}…)`,
      { details: { cid: manifest.cid, index, source: base, expected: manifest.chunks[index], actual } },
    );
  }
}

/** GET with retries: network errors, timeouts and 5xx are retried with backoff; 404 is NOT_FOUND. */
async function get(options: FetchBlobOptions, url: string, counters: Counters): Promise<Uint8Array> {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const attempts = options.attempts ?? 4;
  const initial = options.initialDelayMs ?? 50;
  const max = options.maxDelayMs ?? 2_000;
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await delay(Math.min(max, initial * 2 ** (attempt - 1)), options.signal);
    try {
      counters.requests++;
      const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
      const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
      const response = await fetchImpl(url, { signal });
      const body = new Uint8Array(await response.arrayBuffer());
      counters.bytesReceived += body.length;
      if (response.ok) return body;
      if (response.status === 404) {
        throw new SwitchyardError("NOT_FOUND", `${url} is not served (404)`, { details: { url } });
      }
      if (response.status >= 500) throw new RetryableError(`HTTP ${response.status}`);
      throw new SwitchyardError("MALFORMED", `${url} answered HTTP ${response.status}`, { details: { url } });
    } catch (error) {
      if (error instanceof SwitchyardError || options.signal?.aborted) throw error;
      last = error;
    }
  }
  const reason =
    last instanceof Error ? (last.name === "TimeoutError" ? "timed out" : last.message) : String(last);
  throw new SwitchyardError("UNREACHABLE", `${url} failed ${attempts} times (${reason})`, {
    details: { url, attempts },
    cause: last,
  });
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
