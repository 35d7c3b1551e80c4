import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nodeEd25519 } from "./ed25519.node.ts";
import { isSwitchyardError } from "./errors.ts";
import type { JobId } from "./ids.ts";
import { generateJobKey, stageKey } from "./job-crypto.node.ts";
import { openStageKey, sealStageKeyTo } from "./key-wrap.node.ts";
import { releaseKeySchema } from "./messages.ts";

const jobId = "ab".repeat(32) as JobId;
const secret = (n: number) => new Uint8Array(32).fill(n);
const pub = (s: Uint8Array) => Buffer.from(nodeEd25519.publicKey(s)).toString("hex");

describe("sealStageKeyTo / openStageKey", () => {
  it("the recipient opens the stage key it was sealed", () => {
    const key = stageKey(generateJobKey(), jobId, "train");
    const sealed = sealStageKeyTo(pub(secret(1)), key, { jobId, stage: "train" });
    assert.deepEqual(openStageKey(secret(1), sealed, { jobId, stage: "train" }), key);
    releaseKeySchema.parse({ jobId, stage: "train", to: pub(secret(1)), sealed });
  });

  it("sealing twice gives different bytes (a fresh ephemeral key each time)", () => {
    const key = stageKey(generateJobKey(), jobId, "train");
    const to = pub(secret(1));
    assert.notEqual(
      sealStageKeyTo(to, key, { jobId, stage: "train" }),
      sealStageKeyTo(to, key, { jobId, stage: "train" }),
    );
  });

  it("error: another node, stage or job cannot open it (CORRUPTED)", () => {
    const key = stageKey(generateJobKey(), jobId, "train");
    const sealed = sealStageKeyTo(pub(secret(1)), key, { jobId, stage: "train" });
    const corrupted = (f: () => unknown) => assert.throws(f, (e) => isSwitchyardError(e, "CORRUPTED"));
    corrupted(() => openStageKey(secret(2), sealed, { jobId, stage: "train" }));
    corrupted(() => openStageKey(secret(1), sealed, { jobId, stage: "eval" }));
    corrupted(() => openStageKey(secret(1), sealed, { jobId: "cd".repeat(32), stage: "train" }));
    const flipped = (sealed[100] === "0" ? "1" : "0") + sealed.slice(101);
    corrupted(() => openStageKey(secret(1), sealed.slice(0, 100) + flipped, { jobId, stage: "train" }));
  });
});
