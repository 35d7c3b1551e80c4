/**
 * fsync for files and directories. A write is durable only once its file is synced, and a new or
 * renamed file's name only once its directory is; every adapter that promises durability goes
 * through here.
 */
import { open } from "node:fs/promises";

/** fsync `path` (a file or a directory); `dataOnly` skips metadata such as mtime (fdatasync). */
export async function syncPath(path: string, dataOnly = false): Promise<void> {
  const handle = await open(path, "r");
  try {
    await (dataOnly ? handle.datasync() : handle.sync());
  } finally {
    await handle.close();
  }
}
