/**
 * Per-job encryption of the data that moves between stages (DESIGN.md §4 "Routing and
 * connectivity": payloads are encrypted per job, relays carry ciphertext). ChaCha20-Poly1305
 * (RFC 8439) through node:crypto: 32-byte key, 12-byte nonce, 16-byte tag.
 *
 * Keys, from the top:
 *
 *   job key      32 random bytes per job (`generateJobKey`), or HKDF of a coordinator secret and the
 *                job id (`deriveJobKey`). Held by whoever distributes keys; never given to a provider.
 *   stage key    HKDF(job key, job id ‖ stage). What the key-release rule (core/routing/key-release.ts)
 *                hands to the providers inside a stage's allowed jurisdictions. One key per stage,
 *                not per job, so the provider of an unrestricted stage of the same job holds nothing
 *                that opens an EU-only stage's data.
 *   content key  HKDF(stage key, salt), one per sealed blob. salt = HMAC(stage key, SHA-256 of the
 *                plaintext): sealing the same output twice gives the same bytes (a provider that
 *                re-seals after a restart publishes the same cid), and the salt says nothing about
 *                the plaintext to anyone without the stage key — unlike the plaintext's own cid.
 *
 * **Why a nonce never repeats under one key.** The nonce of chunk i is 0⁸ ‖ u32be(i). Each content
 * key seals exactly one blob, and inside a blob every chunk has its own index, so a (key, nonce)
 * pair is used for one chunk only. Two different plaintexts get different salts (they differ in
 * SHA-256, and HMAC is a PRF), hence different content keys; the same plaintext sealed again reuses
 * (key, nonce) for the *same* chunk bytes and yields identical ciphertext, which reveals only that
 * it is the same blob — it is not the two-plaintext reuse that breaks ChaCha20-Poly1305.
 *
 * **Associated data** binds every chunk to (job id, stage, salt, chunk size, index, count): a chunk
 * moved to another position, blob, stage or job, or a blob cut short, fails its tag (CORRUPTED).
 *
 * Sealed blob layout (all integers big-endian):
 *
 *   0   4   magic "SYS1"
 *   4   32  salt
 *   36  4   chunk size (plaintext bytes per chunk)
 *   40  4   chunk count (≥ 1; an empty plaintext is one empty chunk, so even emptiness is authenticated)
 *   44  …   per chunk: ciphertext (chunk size bytes, the last one 0..chunk size) ‖ 16-byte tag
 *
 * The header is not secret; it is authenticated because each chunk's associated data repeats it.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { concatBytes, utf8 } from "./bytes.ts";
import { SwitchyardError } from "./errors.ts";
import { sha256 } from "./hash.ts";
import type { Brand, JobId } from "./ids.ts";

/** The per-job secret from which every stage key derives. Never released to a provider. */
export type JobKey = Brand<Uint8Array, "JobKey">;
/** The key of one stage's data: what a provider inside the stage's jurisdictions receives. */
export type StageKey = Brand<Uint8Array, "StageKey">;

export const keyBytes = 32;
export const nonceBytes = 12;
export const tagBytes = 16;
/** Magic, salt, chunk size, chunk count. */
export const sealedHeaderBytes = 44;
/** 64 KiB: the 16-byte tag costs 0.02 %, and a corrupted chunk is found without reading the rest. */
export const defaultSealChunkSize = 64 * 1024;
/** 16 MiB: bounds what one tag check has to buffer. */
export const maxSealChunkSize = 16 * 1024 * 1024;

const magic = utf8("SYS1");
const algorithm = "chacha20-poly1305";

/**
 * A fresh random job key (32 bytes from the OS CSPRNG).
 *
 * @example const jobKey = generateJobKey();
 */
export function generateJobKey(): JobKey {
  return new Uint8Array(randomBytes(keyBytes)) as JobKey;
}

/**
 * The job key of `jobId` derived from a long-lived secret (HKDF-SHA256), for a key distributor that
 * would rather keep one secret than one key per job. Different jobs get independent keys.
 *
 * @example const jobKey = deriveJobKey(distributorSecret, jobId);
 */
export function deriveJobKey(secret: Uint8Array, jobId: JobId): JobKey {
  if (secret.length < keyBytes) {
    throw new SwitchyardError("MALFORMED", `a key-derivation secret needs at least ${keyBytes} bytes`, {
      details: { bytes: secret.length },
    });
  }
  return hkdf(secret, utf8("switchyard:job-key:v1"), utf8(checkJobId(jobId))) as JobKey;
}

/** A job key received as bytes; MALFORMED unless it is 32 bytes. */
export function jobKeyFrom(bytes: Uint8Array): JobKey {
  return checkKey(bytes, "job key").slice() as JobKey;
}

/** A stage key received as bytes; MALFORMED unless it is 32 bytes. */
export function stageKeyFrom(bytes: Uint8Array): StageKey {
  return checkKey(bytes, "stage key").slice() as StageKey;
}

/**
 * The key of one stage's data. Released, by the key-release rule, only to providers inside the
 * stage's allowed jurisdictions.
 *
 * @example const key = stageKey(jobKey, jobId, "train");
 */
export function stageKey(jobKey: JobKey, jobId: JobId, stage: string): StageKey {
  checkKey(jobKey, "job key");
  return hkdf(
    jobKey,
    utf8("switchyard:stage-key:v1"),
    lengthPrefixed(checkJobId(jobId), checkStage(stage)),
  ) as StageKey;
}

/**
 * The name a stage's *output* is sealed under and bound to, in place of the stage name:
 * `<spec name>#output` (docs/routing.md "Sealed outputs and relayed inputs"). Spec names cannot
 * contain `#`, so an output key is never a stage key; replicas (`train~2`) share their spec's name,
 * so k replicas that agree seal the same output to the same bytes (sealing is deterministic).
 *
 * @example const key = stageKey(jobKey, jobId, outputSealName("train")); // opens train's output
 */
export function outputSealName(stage: string): string {
  return `${stage.replace(/~[2-9]$/, "")}#output`;
}

/**
 * The requester's view of a sealed job's stage output: the sealed blob its provider served, opened
 * with the output key derived from the job key.
 *
 * @throws SwitchyardError CORRUPTED when the blob is not that stage's output sealed under this job key.
 * @example const plaintext = openStageOutput(jobKey, jobId, "evaluate", sealedBytes);
 */
export function openStageOutput(jobKey: JobKey, jobId: JobId, stage: string, sealed: Uint8Array): Uint8Array {
  const bound = outputSealName(stage);
  return openBlob(stageKey(jobKey, jobId, bound), { jobId, stage: bound }, sealed);
}

/** Where a chunk belongs: everything here is bound into its tag. */
export interface ChunkBinding {
  readonly jobId: JobId;
  readonly stage: string;
  /** The sealed blob's salt (32 bytes): selects the per-content key. */
  readonly salt: Uint8Array;
  /** Plaintext bytes per chunk in this blob. */
  readonly chunkSize: number;
  readonly index: number;
  /** Chunks in the blob: bound, so a blob cut short fails. */
  readonly count: number;
}

/**
 * Encrypt one chunk: ciphertext ‖ 16-byte tag.
 *
 * @throws SwitchyardError MALFORMED on a key that is not 32 bytes or a binding out of range.
 * @example const sealed = sealChunk(key, { jobId, stage: "train", salt, chunkSize, index: 0, count: 1 }, bytes);
 */
export function sealChunk(key: StageKey, binding: ChunkBinding, plaintext: Uint8Array): Uint8Array {
  checkBinding(binding);
  if (plaintext.length > binding.chunkSize) {
    throw new SwitchyardError(
      "MALFORMED",
      `a chunk of ${plaintext.length} bytes exceeds the chunk size ${binding.chunkSize}`,
    );
  }
  return sealWith(contentKey(key, binding.salt), binding, plaintext);
}

/**
 * Decrypt one chunk sealed by {@link sealChunk}.
 *
 * @throws SwitchyardError CORRUPTED when the tag does not verify: wrong key, altered bytes, or a
 *   chunk presented at another index, blob, stage or job than it was sealed for.
 */
export function openChunk(key: StageKey, binding: ChunkBinding, sealed: Uint8Array): Uint8Array {
  checkBinding(binding);
  return openWith(contentKey(key, binding.salt), binding, sealed);
}

export interface SealedBlobContext {
  readonly jobId: JobId;
  readonly stage: string;
}

export interface SealOptions {
  /** Plaintext bytes per chunk (default 64 KiB, at most 16 MiB). */
  readonly chunkSize?: number;
}

/**
 * Seal a whole stage output for transfer: the header, then each chunk under the content key.
 * Deterministic: the same key, context and plaintext give the same bytes (and so the same cid).
 *
 * @example
 * const sealed = sealBlob(stageKey(jobKey, jobId, "train"), { jobId, stage: "train" }, output);
 * const cid = await blobs.put(sealed); // what blob servers and relays carry
 */
export function sealBlob(
  key: StageKey,
  context: SealedBlobContext,
  plaintext: Uint8Array,
  options: SealOptions = {},
): Uint8Array {
  checkKey(key, "stage key");
  const chunkSize = options.chunkSize ?? defaultSealChunkSize;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > maxSealChunkSize) {
    throw new SwitchyardError(
      "MALFORMED",
      `seal chunk size must be 1..${maxSealChunkSize}, got ${chunkSize}`,
    );
  }
  const count = Math.max(1, Math.ceil(plaintext.length / chunkSize));
  if (count > 0xffff_ffff)
    throw new SwitchyardError("TOO_LARGE", `${plaintext.length} bytes need too many chunks`);
  const salt = new Uint8Array(
    createHmac("sha256", key)
      .update(utf8("switchyard:content-salt:v1\u0000"))
      .update(sha256(plaintext))
      .digest(),
  );
  const out = new Uint8Array(sealedHeaderBytes + plaintext.length + count * tagBytes);
  writeHeader(out, salt, chunkSize, count);
  const content = contentKey(key, salt);
  let at = sealedHeaderBytes;
  for (let index = 0; index < count; index++) {
    const chunk = plaintext.subarray(index * chunkSize, Math.min(plaintext.length, (index + 1) * chunkSize));
    const binding = { jobId: context.jobId, stage: context.stage, salt, chunkSize, index, count };
    if (index === 0) checkBinding(binding);
    const sealed = sealWith(content, binding, chunk);
    out.set(sealed, at);
    at += sealed.length;
  }
  return out;
}

/**
 * Open a blob sealed by {@link sealBlob}.
 *
 * @throws SwitchyardError CORRUPTED when the bytes are not a well-formed sealed blob or any chunk
 *   fails its tag (wrong key, wrong job or stage, altered, reordered or truncated chunks).
 */
export function openBlob(key: StageKey, context: SealedBlobContext, sealed: Uint8Array): Uint8Array {
  checkKey(key, "stage key");
  const header = readSealedHeader(sealed);
  const out = new Uint8Array(header.size);
  const content = contentKey(key, header.salt);
  let at = sealedHeaderBytes;
  for (let index = 0; index < header.count; index++) {
    const length = Math.min(header.chunkSize, header.size - index * header.chunkSize) + tagBytes;
    const binding = {
      ...context,
      salt: header.salt,
      chunkSize: header.chunkSize,
      index,
      count: header.count,
    };
    if (index === 0) checkBinding(binding);
    out.set(openWith(content, binding, sealed.subarray(at, at + length)), index * header.chunkSize);
    at += length;
  }
  return out;
}

export interface SealedHeader {
  readonly salt: Uint8Array;
  readonly chunkSize: number;
  readonly count: number;
  /** Plaintext bytes. */
  readonly size: number;
}

/**
 * The header of a sealed blob, checked for consistency with the blob's length (no key needed).
 * Relays use it as a tripwire: they forward only bytes shaped like a sealed blob.
 *
 * @throws SwitchyardError CORRUPTED when the bytes are not shaped like a sealed blob.
 */
export function readSealedHeader(sealed: Uint8Array): SealedHeader {
  const bad = (why: string) =>
    new SwitchyardError("CORRUPTED", `not a sealed blob: ${why}`, { details: { bytes: sealed.length } });
  if (sealed.length < sealedHeaderBytes + tagBytes)
    throw bad(`${sealed.length} bytes is shorter than a header and one tag`);
  for (let i = 0; i < magic.length; i++) if (sealed[i] !== magic[i]) throw bad("wrong magic");
  const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const chunkSize = view.getUint32(36);
  const count = view.getUint32(40);
  if (chunkSize < 1 || chunkSize > maxSealChunkSize) throw bad(`chunk size ${chunkSize}`);
  if (count < 1) throw bad("zero chunks");
  const size = sealed.length - sealedHeaderBytes - count * tagBytes;
  // Canonical: every chunk but the last is full, and the last is non-empty unless it is the only one.
  if (size < 0 || count !== Math.max(1, Math.ceil(size / chunkSize))) {
    throw bad(`${count} chunks of ${chunkSize} bytes do not fit ${sealed.length} bytes`);
  }
  return { salt: sealed.slice(4, 36), chunkSize, count, size };
}

/** True when `bytes` are shaped like a sealed blob (see {@link readSealedHeader}). */
export function isSealedBlob(bytes: Uint8Array): boolean {
  try {
    readSealedHeader(bytes);
    return true;
  } catch {
    return false;
  }
}

// --- internals -------------------------------------------------------------------------------------

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, keyBytes));
}

function contentKey(key: StageKey, salt: Uint8Array): Uint8Array {
  checkKey(key, "stage key");
  return hkdf(key, salt, utf8("switchyard:content-key:v1"));
}

function nonceOf(index: number): Uint8Array {
  const nonce = new Uint8Array(nonceBytes);
  new DataView(nonce.buffer).setUint32(8, index);
  return nonce;
}

function associatedData(b: ChunkBinding): Uint8Array {
  const numbers = new Uint8Array(12);
  const view = new DataView(numbers.buffer);
  view.setUint32(0, b.chunkSize);
  view.setUint32(4, b.index);
  view.setUint32(8, b.count);
  return concatBytes(
    utf8("switchyard:job-chunk:v1\u0000"),
    lengthPrefixed(b.jobId, b.stage),
    b.salt,
    numbers,
  );
}

function sealWith(content: Uint8Array, binding: ChunkBinding, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv(algorithm, content, nonceOf(binding.index), { authTagLength: tagBytes });
  cipher.setAAD(associatedData(binding), { plaintextLength: plaintext.length });
  return concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
}

function openWith(content: Uint8Array, binding: ChunkBinding, sealed: Uint8Array): Uint8Array {
  const fail = (why: string) =>
    new SwitchyardError(
      "CORRUPTED",
      `sealed chunk ${binding.index} of stage ${binding.stage} does not open: ${why}`,
      {
        details: { jobId: binding.jobId, stage: binding.stage, index: binding.index },
      },
    );
  if (sealed.length < tagBytes || sealed.length - tagBytes > binding.chunkSize) {
    throw fail(`${sealed.length} bytes is not a sealed chunk of at most ${binding.chunkSize} bytes`);
  }
  const ciphertext = sealed.subarray(0, sealed.length - tagBytes);
  const decipher = createDecipheriv(algorithm, content, nonceOf(binding.index), { authTagLength: tagBytes });
  decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
  decipher.setAAD(associatedData(binding), { plaintextLength: ciphertext.length });
  const head = decipher.update(ciphertext);
  try {
    return concatBytes(head, decipher.final());
  } catch {
    // OpenSSL says only "unable to authenticate data"; the plaintext in `head` is discarded unseen.
    throw fail("the tag does not verify (wrong key, or the chunk was altered or moved)");
  }
}

function writeHeader(out: Uint8Array, salt: Uint8Array, chunkSize: number, count: number): void {
  out.set(magic, 0);
  out.set(salt, 4);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(36, chunkSize);
  view.setUint32(40, count);
}

/** u32be(length) ‖ bytes for each string: no two different (jobId, stage) pairs encode alike. */
function lengthPrefixed(...parts: readonly string[]): Uint8Array {
  return concatBytes(
    ...parts.flatMap((part) => {
      const bytes = utf8(part);
      const length = new Uint8Array(4);
      new DataView(length.buffer).setUint32(0, bytes.length);
      return [length, bytes];
    }),
  );
}

function checkKey<T extends Uint8Array>(key: T, what: string): T {
  if (!(key instanceof Uint8Array) || key.length !== keyBytes) {
    throw new SwitchyardError("MALFORMED", `a ${what} is ${keyBytes} bytes`, {
      details: { bytes: key instanceof Uint8Array ? key.length : null },
    });
  }
  return key;
}

function checkJobId(jobId: string): string {
  if (!/^[0-9a-f]{64}$/.test(jobId))
    throw new SwitchyardError("MALFORMED", "a job id is 64 lower-case hex digits");
  return jobId;
}

function checkStage(stage: string): string {
  // 66 for a replica (`name~k`), 71 for an output (`name#output`).
  if (stage.length < 1 || stage.length > 80)
    throw new SwitchyardError("MALFORMED", "a stage name is 1 to 80 characters");
  return stage;
}

function checkBinding(b: ChunkBinding): void {
  checkJobId(b.jobId);
  checkStage(b.stage);
  if (b.salt.length !== 32) throw new SwitchyardError("MALFORMED", "a content salt is 32 bytes");
  const u32 = (n: number) => Number.isSafeInteger(n) && n >= 0 && n <= 0xffff_ffff;
  if (
    !u32(b.chunkSize) ||
    b.chunkSize < 1 ||
    !u32(b.count) ||
    b.count < 1 ||
    !u32(b.index) ||
    b.index >= b.count
  ) {
    throw new SwitchyardError(
      "MALFORMED",
      `chunk ${b.index} of ${b.count} (size ${b.chunkSize}) is out of range`,
    );
  }
}
