/**
 * The in-memory BlobStore, for tests and the simulator. The map it keeps is the caller's to share:
 * a new store over the same map sees every blob, and a test may overwrite an entry to simulate a
 * corrupted disk.
 */
import { type BlobStore, blobNotFound, checkCid, cidOf, verifiedBlob } from "./blob-store.ts";

/**
 * A blob store in a Map from content id to bytes.
 *
 * ```ts
 * const blobs = memoryBlobStore();
 * const cid = await blobs.put(new TextEncoder().encode("weights"));
 * ```
 */
export function memoryBlobStore(blobs: Map<string, Uint8Array> = new Map()): BlobStore {
  return {
    kind: "memory",
    async put(bytes) {
      const cid = cidOf(bytes);
      // Copied in and out, so a caller reusing its buffer cannot rewrite a stored blob.
      const stored = blobs.get(cid);
      if (stored === undefined || cidOf(stored) !== cid) blobs.set(cid, bytes.slice());
      return cid;
    },
    async get(cid) {
      const stored = blobs.get(checkCid(cid));
      if (stored === undefined) throw blobNotFound(cid);
      return verifiedBlob(cid, stored, "memory").slice();
    },
    async has(cid) {
      return blobs.has(checkCid(cid));
    },
  };
}
