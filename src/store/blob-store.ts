/**
 * The BlobStore port: content-addressed bytes (job inputs, outputs, checkpoints). A blob's id is
 * `contentId` of its bytes, so a blob can be fetched from anyone and checked on arrival; the
 * adapters (filesystem, memory) check it again on every read, because a disk that flips a bit must
 * not turn into a provider that computed on the wrong input.
 */
import { SwitchyardError } from "../protocol/errors.ts";
import { contentId } from "../protocol/hash.ts";
import type { Cid } from "../protocol/ids.ts";

export interface BlobStore {
  /** Which adapter this is (`filesystem`, `memory`). */
  readonly kind: string;
  /** Store `bytes` durably and return their content id. Storing the same bytes again is cheap. */
  put(bytes: Uint8Array): Promise<Cid>;
  /**
   * The bytes of `cid`, verified against it. NOT_FOUND when absent; CORRUPTED when the stored bytes no
   * longer hash to `cid` (put them again to repair); MALFORMED when `cid` is not a content id.
   */
  get(cid: Cid): Promise<Uint8Array>;
  /** Whether a blob is stored, without reading or verifying it. MALFORMED when `cid` is not a content id. */
  has(cid: Cid): Promise<boolean>;
}

/**
 * Throws MALFORMED unless `cid` is 64 lower-case hex digits. Ids arrive from the network and the
 * filesystem adapter builds paths from them: `../../etc/passwd` must never reach a path.
 */
export function checkCid(cid: string): Cid {
  if (!/^[0-9a-f]{64}$/.test(cid)) {
    throw new SwitchyardError(
      "MALFORMED",
      `'${cid.slice(0, 80)}' is not a content id (64 lower-case hex digits)`,
    );
  }
  return cid as Cid;
}

/** The content id of `bytes` (SHA-256, hex): `contentId` from src/protocol/hash.ts. */
export function cidOf(bytes: Uint8Array): Cid {
  return contentId(bytes);
}

/** Return `bytes` if they hash to `cid`; otherwise throw the corruption error every adapter raises. */
export function verifiedBlob(cid: Cid, bytes: Uint8Array, where: string): Uint8Array {
  const actual = cidOf(bytes);
  if (actual !== cid) {
    throw new SwitchyardError(
      "CORRUPTED",
      `blob ${cid.slice(0, 12)}… in ${where} is corrupted: its bytes hash to ${actual.slice(0, 12)}…; put it again to repair`,
      { details: { cid, actual, corrupted: true } },
    );
  }
  return bytes;
}

export function blobNotFound(cid: Cid): SwitchyardError {
  return new SwitchyardError("NOT_FOUND", `blob ${cid} is not stored here`, { details: { cid } });
}
