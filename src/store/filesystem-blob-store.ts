/**
 * The BlobStore on a local directory. Each blob is one file named by its content id, in a
 * sub-directory named by the id's first two hex digits (`root/ab/ab12…`): 256 shards keep a
 * directory to a few thousand entries for a million blobs, as git does for its objects.
 *
 * A put is atomic and durable: the bytes go to a temporary file in `root/.tmp` (same filesystem,
 * so the rename is atomic), are fsynced, renamed into place, and the shard directory is fsynced so
 * the new name survives a power cut. A reader therefore sees either no file or the whole blob; a
 * crash can only leave a stray temporary file behind, which is never read.
 */
import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Cid } from "../protocol/ids.ts";
import { type BlobStore, blobNotFound, checkCid, cidOf, verifiedBlob } from "./blob-store.ts";
import { syncPath } from "./durable-fs.ts";
import { storeUnavailable } from "./errors.ts";

/** Where the blob `cid` lives under `root`. */
export function blobPath(root: string, cid: Cid): string {
  return join(root, cid.slice(0, 2), cid);
}

/**
 * A blob store in the directory `root`, created on first put.
 *
 * ```ts
 * const blobs = filesystemBlobStore(".switchyard/blobs");
 * const cid = await blobs.put(bytes);
 * ```
 */
export function filesystemBlobStore(root: string): BlobStore {
  const dir = resolve(root);
  const where = `filesystem store ${dir}`;
  return {
    kind: "filesystem",
    async put(bytes) {
      const cid = cidOf(bytes);
      const path = blobPath(dir, checkCid(cid));
      try {
        // Content addressing makes a second put of the same bytes free, unless the stored copy has
        // rotted: then this put is the repair.
        if (await holdsIntact(path, cid)) return cid;
        await writeAtomically(dir, path, bytes);
      } catch (error) {
        throw storeUnavailable(error, `storing blob ${cid} in ${dir}`);
      }
      return cid;
    },
    async get(cid) {
      const path = blobPath(dir, checkCid(cid));
      let bytes: Uint8Array;
      try {
        bytes = await readFile(path);
      } catch (error) {
        if (isMissing(error)) throw blobNotFound(cid);
        throw storeUnavailable(error, `reading blob ${cid} from ${dir}`);
      }
      // A plain Uint8Array, like the memory store returns, not a Buffer from Node's pool.
      return verifiedBlob(cid, new Uint8Array(bytes), where);
    },
    async has(cid) {
      try {
        return (await stat(blobPath(dir, checkCid(cid)))).isFile();
      } catch (error) {
        if (isMissing(error)) return false;
        throw storeUnavailable(error, `looking up blob ${cid} in ${dir}`);
      }
    },
  };
}

async function holdsIntact(path: string, cid: Cid): Promise<boolean> {
  try {
    return cidOf(await readFile(path)) === cid;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function writeAtomically(root: string, path: string, bytes: Uint8Array): Promise<void> {
  await makeDirectory(root);
  await makeDirectory(dirname(path));
  const tmpDir = join(root, ".tmp");
  await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `${randomUUID()}.tmp`);
  try {
    const file = await open(tmp, "wx", 0o644);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncPath(dirname(path));
}

/** Create `dir` if missing, and sync its parent so that the new name itself is durable. */
async function makeDirectory(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created !== undefined) await syncPath(dirname(dir));
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ENOENT";
}
