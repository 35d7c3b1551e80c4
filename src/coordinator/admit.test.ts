/** The coordinator sequences a revealed state only if it holds the bytes and they are the committed checkpoint. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { utf8 } from "../protocol/bytes.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { contentId, taggedHash } from "../protocol/hash.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { hashStateBytes } from "../runtime/program.ts";
import { must, onboardProviders, submitJobOf, trainStage, worldProviders } from "../sim/fixtures.ts";
import { LocalNetwork, simIdentity } from "../sim/local-network.ts";
import { admitWithBlobs } from "./admit.ts";
import { createBlobCache } from "./blob-cache.ts";

const h = (s: string): Hex32 => taggedHash("test", utf8(s));

test("revealState is admitted only when the cache holds bytes that hash to the agreed checkpoint", () => {
  const requester = simIdentity("requester");
  const net = new LocalNetwork({ params: { verificationWindowMs: 5_000 } });
  onboardProviders(net, worldProviders);
  must(net.send(requester, "faucet", { amount: 100_000_000n }));
  const job = submitJobOf(net, requester, [trainStage({ verification: "spot" })]);
  const stage = net.state.jobs.get(job)!.stages.get("train")!;
  // A check in progress, as live.ts leaves it after the beacon (the fields admission reads).
  stage.check = {
    phase: "withheld",
    commitSeq: 0,
    skipped: [],
    sources: [],
    segment: 1,
    fromStep: 8,
    toStep: 16,
  };
  const bytes = utf8("the state after step 8");
  const agreed = hashStateBytes("mlp-train", 8, bytes);
  const env = (state: string, agreedHash: Hex32) =>
    ({
      type: "revealState",
      body: {
        jobId: job,
        stage: "train",
        state,
        agreed: { hash: agreedHash, proof: [] },
        claimed: { hash: h("c"), proof: [] },
      },
    }) as unknown as Envelope;
  const cache = createBlobCache();
  const admit = admitWithBlobs(cache);
  const code = (f: () => void) => {
    try {
      f();
      return "admitted";
    } catch (e) {
      return isSwitchyardError(e) ? e.code : "untyped";
    }
  };
  assert.equal(
    code(() => admit(env(contentId(bytes), agreed), net.state)),
    "NOT_FOUND",
    "not uploaded yet",
  );
  cache.put(contentId(bytes), bytes);
  assert.equal(
    code(() => admit(env(contentId(bytes), h("another")), net.state)),
    "STATE_HASH_MISMATCH",
  );
  assert.equal(
    code(() => admit(env(contentId(bytes), agreed), net.state)),
    "admitted",
  );
  assert.equal(
    code(() => admit({ type: "faucet", body: {} } as unknown as Envelope, net.state)),
    "admitted",
  );
});
