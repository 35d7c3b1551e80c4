import { blobStoreConformance } from "./blob-store.conformance.ts";
import { memoryBlobStore } from "./memory-blob-store.ts";

blobStoreConformance("memory", async () => {
  const blobs = new Map<string, Uint8Array>();
  return {
    connect: () => memoryBlobStore(blobs),
    async corrupt(cid, bytes) {
      blobs.set(cid, bytes);
    },
    async destroy() {},
  };
});
