import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { utf8 } from "../protocol/bytes.ts";
import { blobStoreConformance } from "./blob-store.conformance.ts";
import { blobPath, filesystemBlobStore } from "./filesystem-blob-store.ts";

blobStoreConformance("filesystem", async () => {
  const root = await mkdtemp(join(tmpdir(), "switchyard-blobs-"));
  return {
    connect: () => filesystemBlobStore(root),
    corrupt: (cid, bytes) => writeFile(blobPath(root, cid), bytes),
    destroy: () => rm(root, { recursive: true, force: true }),
  };
});

test("blobs are sharded by the first two hex digits of their id, with no temporary file left", async () => {
  const root = await mkdtemp(join(tmpdir(), "switchyard-blobs-"));
  try {
    const blobs = filesystemBlobStore(join(root, "new", "dir"));
    const cid = await blobs.put(utf8("sharded"));
    const path = blobPath(join(root, "new", "dir"), cid);
    assert.equal(path, join(root, "new", "dir", cid.slice(0, 2), cid));
    assert.ok((await stat(path)).isFile());
    assert.deepEqual(await readdir(join(root, "new", "dir", ".tmp")), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
