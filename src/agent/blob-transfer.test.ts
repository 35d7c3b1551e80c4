import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Hono } from "hono";
import { isSwitchyardError } from "../protocol/errors.ts";
import { contentId } from "../protocol/hash.ts";
import type { Cid } from "../protocol/ids.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { filesystemBlobStore } from "../store/filesystem-blob-store.ts";
import { memoryBlobStore } from "../store/memory-blob-store.ts";
import { fetchBlob } from "./blob-fetch.ts";
import { type BlobServer, blobRoutes, startBlobServer } from "./blob-server.ts";
import { type AgentHttpServer, serveApp } from "./http.ts";

const chunkSize = 64 * 1024;
/** 17 chunks, the last one short. */
const blob = Uint8Array.from({ length: 16 * chunkSize + 1234 }, (_, i) => (i * 2654435761) >>> 24);
const fast = { initialDelayMs: 5, maxDelayMs: 20 } as const;

let dir = "";
let storeA: BlobStore;
let storeB: BlobStore;
let a: BlobServer;
let b: BlobServer;
let cid: Cid;
const servers: AgentHttpServer[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchyard-blobs-"));
  storeA = filesystemBlobStore(join(dir, "a"));
  storeB = filesystemBlobStore(join(dir, "b"));
  cid = await storeA.put(blob);
  a = await startBlobServer({ blobs: storeA, chunkSize });
  b = await startBlobServer({ blobs: storeB, chunkSize });
  servers.push(a, b);
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

/** A server over `store` whose chunk `index` is altered in transit the first `times` times. */
async function corruptingServer(store: BlobStore, index: number, times: number): Promise<AgentHttpServer> {
  const routes = blobRoutes({ blobs: store, chunkSize });
  const app = new Hono();
  let left = times;
  app.use(`/blobs/:cid/chunks/${index}`, async (c, next) => {
    await next();
    if (left-- <= 0) return;
    const bytes = new Uint8Array(await c.res.arrayBuffer());
    bytes[7] = bytes[7]! ^ 0x40;
    c.res = new Response(bytes, { status: 200, headers: { "content-type": "application/octet-stream" } });
  });
  app.route("/", routes.app);
  const server = await serveApp(app, "127.0.0.1", 0);
  servers.push(server);
  return server;
}

describe("blob transfer between two agents on loopback", () => {
  test("a multi-chunk blob moves intact into the other agent's store, which then serves it too", async () => {
    const result = await fetchBlob({ cid, sources: [a.url], store: storeB, ...fast });
    assert.equal(result.chunks, 17);
    assert.deepEqual(result.bytes, blob);
    assert.deepEqual(await storeB.get(cid), blob);
    assert.ok(
      result.bytesReceived > blob.length && result.bytesReceived < blob.length + 4096,
      "payload plus manifest",
    );
    assert.equal(result.chunkRefetches, 0);
    assert.equal(a.stats().bytesServed, blob.length);
    const again = await fetchBlob({ cid, sources: [b.url], store: memoryBlobStore(), ...fast });
    assert.deepEqual(again.bytes, blob);
  });

  test("every request goes through the fetch hook (where latency emulation plugs in)", async () => {
    let calls = 0;
    const hooked: FetchLike = async (input, init) => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      return fetch(input, init);
    };
    const result = await fetchBlob({ cid, sources: [a.url], fetch: hooked, ...fast });
    assert.equal(calls, result.requests);
    assert.equal(calls, 18, "one manifest and 17 chunks");
  });

  test("a chunk corrupted once in transit is detected and refetched", async () => {
    const server = await corruptingServer(storeA, 3, 1);
    const result = await fetchBlob({ cid, sources: [server.url], ...fast });
    assert.deepEqual(result.bytes, blob);
    assert.equal(result.chunkRefetches, 1);
  });

  test("error: a chunk that arrives corrupted twice is CORRUPTED naming the chunk", async () => {
    const server = await corruptingServer(storeA, 5, 2);
    await assert.rejects(
      fetchBlob({ cid, sources: [server.url], ...fast }),
      (e: unknown) => isSwitchyardError(e, "CORRUPTED") && /chunk 5/.test(e.message),
    );
  });

  test("error: a consistent manifest of other bytes is CORRUPTED by the whole-blob check", async () => {
    const other = blob.slice();
    other[100_000] = other[100_000]! ^ 1;
    // A store that answers for `cid` with other bytes: every chunk matches its manifest, the cid does not.
    const lying: BlobStore = { ...memoryBlobStore(), get: async () => other, has: async () => true };
    const server = await startBlobServer({ blobs: lying, chunkSize });
    servers.push(server);
    await assert.rejects(
      fetchBlob({ cid, sources: [server.url], ...fast }),
      (e: unknown) => isSwitchyardError(e, "CORRUPTED") && /manifest describes other bytes/.test(e.message),
    );
  });

  test("error: a cid no source holds is NOT_FOUND", async () => {
    const missing = contentId(new Uint8Array([1, 2, 3]));
    await assert.rejects(fetchBlob({ cid: missing, sources: [a.url, b.url], ...fast }), (e: unknown) =>
      isSwitchyardError(e, "NOT_FOUND"),
    );
    await assert.rejects(fetchBlob({ cid: missing, sources: [] }), (e: unknown) =>
      isSwitchyardError(e, "NOT_FOUND"),
    );
  });

  test("an unreachable source is retried with backoff, then the next source serves the blob", async () => {
    const gone = await serveApp(new Hono(), "127.0.0.1", 0);
    await gone.close();
    const result = await fetchBlob({ cid, sources: [gone.url, a.url], attempts: 2, ...fast });
    assert.equal(result.source, a.url);
    assert.deepEqual(result.bytes, blob);
  });

  test("error: only unreachable sources is UNREACHABLE", async () => {
    const gone = await serveApp(new Hono(), "127.0.0.1", 0);
    const port = new URL(gone.url).port;
    await gone.close();
    await assert.rejects(
      fetchBlob({ cid, sources: [gone.url], attempts: 2, ...fast }),
      (e: unknown) => isSwitchyardError(e, "UNREACHABLE") && e.message.includes(String(port)),
    );
  });

  test("a busy server answers 503 beyond its concurrency bound, and fetchers back off and still finish", async () => {
    const busy = await startBlobServer({ blobs: storeA, chunkSize, maxConcurrent: 1 });
    servers.push(busy);
    const slow: FetchLike = async (input, init) => {
      const response = await fetch(input, init);
      await new Promise((r) => setTimeout(r, 2));
      return response;
    };
    const results = await Promise.all(
      Array.from({ length: 3 }, () =>
        fetchBlob({ cid, sources: [busy.url], fetch: slow, concurrency: 4, attempts: 30, ...fast }),
      ),
    );
    for (const r of results) assert.deepEqual(r.bytes, blob);
    assert.ok(busy.stats().rejected > 0, "some requests were refused while the server was at its bound");
  });

  test("error: a malformed cid or chunk index is refused with 400 MALFORMED", async () => {
    const response = await fetch(`${a.url}/blobs/..%2F..%2Fetc/manifest`);
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, "MALFORMED");
    const chunk = await fetch(`${a.url}/blobs/${cid}/chunks/x1`);
    assert.equal(chunk.status, 400);
    const past = await fetch(`${a.url}/blobs/${cid}/chunks/17`);
    assert.equal(past.status, 404);
  });
});
