import assert from "node:assert/strict";
import { createDecipheriv, createHmac, hkdfSync } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { concatBytes, utf8 } from "./bytes.ts";
import { isSwitchyardError } from "./errors.ts";
import { sha256, sha256Hex } from "./hash.ts";
import type { JobId } from "./ids.ts";
import {
  deriveJobKey,
  generateJobKey,
  isSealedBlob,
  type JobKey,
  jobKeyFrom,
  openBlob,
  openChunk,
  readSealedHeader,
  sealBlob,
  sealChunk,
  sealedHeaderBytes,
  stageKey,
  tagBytes,
} from "./job-crypto.node.ts";

const jobId = sha256Hex(utf8("job-1")) as string as JobId;
const otherJob = sha256Hex(utf8("job-2")) as string as JobId;
const fixedJobKey = jobKeyFrom(Uint8Array.from({ length: 32 }, (_, i) => i));
const key = stageKey(fixedJobKey, jobId, "train");
const context = { jobId, stage: "train" };
const text = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
const corrupted = (e: unknown) => isSwitchyardError(e, "CORRUPTED");

/** u32be(len) ‖ utf8 for each part, as the module documents. */
const prefixed = (...parts: string[]) =>
  concatBytes(
    ...parts.flatMap((p) => {
      const b = utf8(p);
      const n = new Uint8Array(4);
      new DataView(n.buffer).setUint32(0, b.length);
      return [n, b];
    }),
  );
const u32s = (...ns: number[]) => {
  const out = new Uint8Array(4 * ns.length);
  const view = new DataView(out.buffer);
  for (const [i, n] of ns.entries()) view.setUint32(4 * i, n);
  return out;
};

describe("job crypto: sealing stage data with ChaCha20-Poly1305", () => {
  it("the format is the documented one: derivations, header, nonce and associated data, opened with node:crypto directly", () => {
    const plaintext = text(100);
    const sealed = sealBlob(key, context, plaintext, { chunkSize: 64 });
    // Spelled out from the module's comment, independently of its code.
    const jk = fixedJobKey;
    const sk = new Uint8Array(
      hkdfSync("sha256", jk, utf8("switchyard:stage-key:v1"), prefixed(jobId, "train"), 32),
    );
    assert.deepEqual(new Uint8Array(key), sk);
    const salt = new Uint8Array(
      createHmac("sha256", sk)
        .update(utf8("switchyard:content-salt:v1\u0000"))
        .update(sha256(plaintext))
        .digest(),
    );
    const ck = new Uint8Array(hkdfSync("sha256", sk, salt, utf8("switchyard:content-key:v1"), 32));
    assert.deepEqual(sealed.subarray(0, 4), utf8("SYS1"));
    assert.deepEqual(sealed.subarray(4, 36), salt);
    assert.deepEqual(sealed.subarray(36, 44), u32s(64, 2));
    assert.equal(sealed.length, sealedHeaderBytes + 100 + 2 * tagBytes);
    const opened: Uint8Array[] = [];
    let at = sealedHeaderBytes;
    for (const [index, length] of [
      [0, 64],
      [1, 36],
    ] as const) {
      const nonce = concatBytes(new Uint8Array(8), u32s(index));
      const ad = concatBytes(
        utf8("switchyard:job-chunk:v1\u0000"),
        prefixed(jobId, "train"),
        salt,
        u32s(64, index, 2),
      );
      const d = createDecipheriv("chacha20-poly1305", ck, nonce, { authTagLength: 16 });
      d.setAuthTag(sealed.subarray(at + length, at + length + 16));
      d.setAAD(ad, { plaintextLength: length });
      opened.push(concatBytes(d.update(sealed.subarray(at, at + length)), d.final()));
      at += length + 16;
    }
    assert.deepEqual(concatBytes(...opened), plaintext);
  });

  it("property: openBlob(sealBlob(x)) = x for any plaintext and chunk size, and the ciphertext is not the plaintext", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1, max: 700 }),
        (plaintext, chunkSize) => {
          const sealed = sealBlob(key, context, plaintext, { chunkSize });
          assert.deepEqual(openBlob(key, context, sealed), plaintext);
          assert.equal(readSealedHeader(sealed).size, plaintext.length);
          if (plaintext.length >= 16) {
            const body = Buffer.from(sealed.subarray(sealedHeaderBytes));
            assert.equal(body.indexOf(Buffer.from(plaintext.subarray(0, 16))), -1);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("sealing is deterministic per (stage key, plaintext), and differs across stages and jobs", () => {
    const p = text(1000);
    assert.deepEqual(sealBlob(key, context, p), sealBlob(key, context, p));
    const otherStage = sealBlob(stageKey(fixedJobKey, jobId, "eval"), { jobId, stage: "eval" }, p);
    const otherJobSealed = sealBlob(
      stageKey(fixedJobKey, otherJob, "train"),
      { jobId: otherJob, stage: "train" },
      p,
    );
    const sealed = sealBlob(key, context, p);
    assert.notDeepEqual(otherStage.subarray(4), sealed.subarray(4));
    assert.notDeepEqual(otherJobSealed.subarray(4), sealed.subarray(4));
    // Different plaintexts never share a salt, so never a content key (the nonce-reuse argument).
    assert.notDeepEqual(
      readSealedHeader(sealBlob(key, context, text(999))).salt,
      readSealedHeader(sealed).salt,
    );
  });

  it("error: a wrong key is CORRUPTED, for a random job key and for another stage's key of the same job", () => {
    const sealed = sealBlob(key, context, text(5000));
    assert.throws(() => openBlob(stageKey(generateJobKey(), jobId, "train"), context, sealed), corrupted);
    assert.throws(() => openBlob(stageKey(fixedJobKey, jobId, "eval"), context, sealed), corrupted);
  });

  it("error: a chunk presented under another stage or job, even with the right key, is CORRUPTED", () => {
    const sealed = sealBlob(key, context, text(500));
    assert.throws(() => openBlob(key, { jobId, stage: "eval" }, sealed), corrupted);
    assert.throws(() => openBlob(key, { jobId: otherJob, stage: "train" }, sealed), corrupted);
  });

  it("error: swapped chunks are CORRUPTED (the index is bound), and so is a blob cut short", () => {
    const chunkSize = 100;
    const sealed = sealBlob(key, context, text(300), { chunkSize });
    const size = chunkSize + tagBytes;
    const swapped = sealed.slice();
    swapped.set(sealed.subarray(sealedHeaderBytes + size, sealedHeaderBytes + 2 * size), sealedHeaderBytes);
    swapped.set(sealed.subarray(sealedHeaderBytes, sealedHeaderBytes + size), sealedHeaderBytes + size);
    assert.throws(() => openBlob(key, context, swapped), corrupted);
    // Drop the last chunk and rewrite the count: the count is bound too.
    const cut = sealed.slice(0, sealedHeaderBytes + 2 * size);
    new DataView(cut.buffer).setUint32(40, 2);
    assert.ok(isSealedBlob(cut), "still shaped like a sealed blob");
    assert.throws(() => openBlob(key, context, cut), corrupted);
  });

  it("property: flipping any bit of a sealed blob makes it CORRUPTED", () => {
    const sealed = sealBlob(key, context, text(700), { chunkSize: 256 });
    fc.assert(
      fc.property(fc.nat({ max: sealed.length * 8 - 1 }), (bit) => {
        const bad = sealed.slice();
        bad[bit >> 3] = bad[bit >> 3]! ^ (1 << (bit & 7));
        assert.throws(() => openBlob(key, context, bad), corrupted);
      }),
      { numRuns: 300 },
    );
  });

  it("sealChunk / openChunk round-trip one chunk, and its binding is enforced", () => {
    const salt = sha256(utf8("salt"));
    const binding = { jobId, stage: "train", salt, chunkSize: 64, index: 2, count: 3 };
    const chunk = sealChunk(key, binding, text(64));
    assert.deepEqual(openChunk(key, binding, chunk), text(64));
    assert.throws(() => openChunk(key, { ...binding, index: 1 }, chunk), corrupted);
    assert.throws(() => openChunk(key, { ...binding, count: 4 }, chunk), corrupted);
    assert.throws(() => openChunk(key, { ...binding, salt: sha256(utf8("other")) }, chunk), corrupted);
  });

  it("an empty plaintext is one authenticated empty chunk", () => {
    const sealed = sealBlob(key, context, new Uint8Array(0));
    assert.equal(sealed.length, sealedHeaderBytes + tagBytes);
    assert.deepEqual(openBlob(key, context, sealed), new Uint8Array(0));
    assert.throws(() => openBlob(stageKey(generateJobKey(), jobId, "train"), context, sealed), corrupted);
  });

  it("deriveJobKey gives independent keys per job from one secret", () => {
    const secret = sha256(utf8("distributor secret"));
    const a = deriveJobKey(secret, jobId);
    assert.deepEqual(a, deriveJobKey(secret, jobId));
    assert.notDeepEqual(a, deriveJobKey(secret, otherJob));
  });

  it("error: bad keys, bindings and shapes are typed errors", () => {
    assert.throws(
      () => jobKeyFrom(new Uint8Array(31)),
      (e: unknown) => isSwitchyardError(e, "MALFORMED"),
    );
    assert.throws(
      () => stageKey(new Uint8Array(16) as JobKey, jobId, "x"),
      (e: unknown) => isSwitchyardError(e, "MALFORMED"),
    );
    assert.throws(
      () => stageKey(fixedJobKey, "nope" as JobId, "x"),
      (e: unknown) => isSwitchyardError(e, "MALFORMED"),
    );
    assert.throws(
      () => deriveJobKey(new Uint8Array(8), jobId),
      (e: unknown) => isSwitchyardError(e, "MALFORMED"),
    );
    assert.throws(
      () => sealBlob(key, context, text(10), { chunkSize: 0 }),
      (e: unknown) => isSwitchyardError(e, "MALFORMED"),
    );
    const salt = sha256(utf8("salt"));
    assert.throws(
      () => sealChunk(key, { jobId, stage: "train", salt, chunkSize: 8, index: 3, count: 3 }, text(8)),
      (e: unknown) => isSwitchyardError(e, "MALFORMED"),
    );
    assert.throws(() => readSealedHeader(text(100)), corrupted);
    assert.equal(
      isSealedBlob(utf8("plain text that is long enough to hold a header and a tag, but no magic")),
      false,
    );
  });
});
