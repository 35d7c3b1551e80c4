/**
 * The BlobStore conformance suite, run by each adapter's test file with a harness over its own
 * storage: the same specification for the filesystem and memory adapters.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { utf8 } from "../protocol/bytes.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { contentId } from "../protocol/hash.ts";
import type { Cid } from "../protocol/ids.ts";
import { type BlobStore, cidOf } from "./blob-store.ts";

/** Storage for one test, and the back door the suite needs into it. */
export interface BlobStoreHarness {
  /** A new store over this storage; every one sees what earlier ones stored. */
  connect(): BlobStore;
  /** Overwrite the stored bytes of `cid` behind the store's back, as a failing disk would. */
  corrupt(cid: Cid, bytes: Uint8Array): Promise<void>;
  destroy(): Promise<void>;
}

const malformed = (e: unknown) => isSwitchyardError(e, "MALFORMED");

/** Register the suite for one adapter. */
export function blobStoreConformance(adapter: string, createHarness: () => Promise<BlobStoreHarness>): void {
  const spec = (name: string, body: (h: BlobStoreHarness) => Promise<void>) =>
    test(name, async () => {
      const harness = await createHarness();
      try {
        await body(harness);
      } finally {
        await harness.destroy();
      }
    });

  describe(`BlobStore conformance: ${adapter}`, () => {
    spec("put returns the content id, and get returns the same bytes", async (h) => {
      const blobs = h.connect();
      const bytes = utf8("model weights, version 1");
      const cid = await blobs.put(bytes);
      assert.equal(cid, contentId(bytes));
      assert.equal(cid, cidOf(bytes));
      assert.deepEqual(await blobs.get(cid), bytes);
      assert.equal(await blobs.has(cid), true);
    });

    spec("the empty blob and a 3 MB blob round-trip", async (h) => {
      const blobs = h.connect();
      const big = new Uint8Array(3 << 20).map((_, i) => (i * 31) & 0xff);
      for (const bytes of [new Uint8Array(0), big])
        assert.deepEqual(await blobs.get(await blobs.put(bytes)), bytes);
    });

    spec("putting the same bytes twice, even at once, stores one blob under one id", async (h) => {
      const blobs = h.connect();
      const bytes = utf8("dataset shard 7");
      const cids = await Promise.all([blobs.put(bytes), blobs.put(bytes), blobs.put(bytes.slice())]);
      assert.equal(new Set(cids).size, 1);
      assert.deepEqual(await blobs.get(cids[0]!), bytes);
    });

    spec("a new store over the same storage sees every blob", async (h) => {
      const cid = await h.connect().put(utf8("checkpoint 12"));
      assert.deepEqual(await h.connect().get(cid), utf8("checkpoint 12"));
    });

    spec("stored bytes do not change when the caller reuses its buffers", async (h) => {
      const blobs = h.connect();
      const bytes = utf8("input");
      const cid = await blobs.put(bytes);
      bytes.fill(0);
      const read = await blobs.get(cid);
      read.fill(0);
      assert.deepEqual(await blobs.get(cid), utf8("input"));
    });

    spec("error: a missing blob is NOT_FOUND, and has() is false", async (h) => {
      const blobs = h.connect();
      const cid = cidOf(utf8("never stored"));
      await assert.rejects(
        blobs.get(cid),
        (e) => isSwitchyardError(e, "NOT_FOUND") && e.details["cid"] === cid,
      );
      assert.equal(await blobs.has(cid), false);
    });

    spec("error: an id that is not a content id is MALFORMED and touches nothing", async (h) => {
      const blobs = h.connect();
      for (const bad of ["../../etc/passwd", "AB".repeat(32), "ab".repeat(31), `${"ab".repeat(32)}/x`]) {
        await assert.rejects(blobs.get(bad as Cid), malformed);
        await assert.rejects(blobs.has(bad as Cid), malformed);
      }
    });

    spec("error: corrupted bytes are refused by get, naming the blob; a new put repairs them", async (h) => {
      const blobs = h.connect();
      const bytes = utf8("stage output");
      const cid = await blobs.put(bytes);
      await h.corrupt(cid, utf8("stage outpuT"));
      await assert.rejects(
        blobs.get(cid),
        (e) => isSwitchyardError(e, "CORRUPTED") && e.details["cid"] === cid,
      );
      assert.equal(await blobs.put(bytes), cid);
      assert.deepEqual(await blobs.get(cid), bytes);
    });
  });
}
