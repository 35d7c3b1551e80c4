import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { fetchBlob } from "../agent/blob-fetch.ts";
import { apiPaths } from "../protocol/api.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { contentId } from "../protocol/hash.ts";
import { createBlobCache } from "./blob-cache.ts";
import type { Coordinator } from "./coordinator.ts";
import { get, startTestCoordinator } from "./test-kit.ts";

const put = (base: string, cid: string, bytes: Uint8Array) =>
  fetch(`${base}${apiPaths.blob.replace(":cid", cid)}`, { method: "PUT", body: bytes });

describe("the coordinator's blob cache over HTTP", () => {
  let coordinator: Coordinator;
  before(async () => {
    coordinator = await startTestCoordinator({ blobCache: { maxBlobBytes: 1 << 20, chunkSize: 64 * 1024 } });
  });
  after(() => coordinator.stop());

  test("a put blob is fetched back through the agents' chunked fetch, with the coordinator as a source", async () => {
    const bytes = new Uint8Array(randomBytes(200_000));
    const cid = contentId(bytes);
    const res = await put(coordinator.url, cid, bytes);
    assert.equal(res.status, 204);
    const got = await fetchBlob({ cid, sources: [`${coordinator.url}/v1`] });
    assert.deepEqual(got.bytes, bytes);
    assert.equal(got.chunks, 4, "200,000 bytes in chunks of 64 KiB");
  });

  test("error: bytes that do not hash to the content id are refused (400 MALFORMED) and not cached", async () => {
    const bytes = new Uint8Array(randomBytes(1000));
    const claimed = contentId(new Uint8Array(randomBytes(1000)));
    const res = await put(coordinator.url, claimed, bytes);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { code: string }).code, "MALFORMED");
    const manifest = await get(coordinator.url, apiPaths.blobManifest.replace(":cid", claimed));
    assert.equal(manifest.status, 404);
    await assert.rejects(fetchBlob({ cid: claimed, sources: [`${coordinator.url}/v1`] }), (e) =>
      isSwitchyardError(e, "NOT_FOUND"),
    );
  });

  test("error: a blob over the limit is refused with 413 TOO_LARGE", async () => {
    const bytes = new Uint8Array((1 << 20) + 1);
    const res = await put(coordinator.url, contentId(bytes), bytes);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code: string }).code, "TOO_LARGE");
  });

  test("error: a content id that is not 64 hex digits is MALFORMED", async () => {
    const res = await put(coordinator.url, "not-a-cid", new Uint8Array(3));
    assert.equal(res.status, 400);
  });
});

describe("createBlobCache", () => {
  test("holds at most maxTotalBytes, evicting the least recently used", () => {
    const cache = createBlobCache({ maxTotalBytes: 2500 });
    const blobs = [1, 2, 3].map(() => new Uint8Array(randomBytes(1000)));
    const [a, b, c] = blobs.map(contentId);
    cache.put(a!, blobs[0]!);
    cache.put(b!, blobs[1]!);
    cache.get(a!); // a is now the most recently used
    cache.put(c!, blobs[2]!);
    assert.throws(
      () => cache.get(b!),
      (e) => isSwitchyardError(e, "NOT_FOUND"),
    );
    assert.deepEqual(cache.get(a!).bytes, blobs[0]);
    assert.deepEqual(cache.get(c!).bytes, blobs[2]);
    assert.deepEqual(cache.stats(), { blobs: 2, bytes: 2000, evicted: 1 });
  });

  test("keeps a copy: changing the caller's buffer afterwards changes nothing", () => {
    const cache = createBlobCache();
    const bytes = new Uint8Array(randomBytes(100));
    const cid = contentId(bytes);
    cache.put(cid, bytes);
    bytes[0] = bytes[0]! ^ 0xff;
    assert.equal(contentId(cache.get(cid).bytes), cid);
  });
});
