/**
 * A dispute over a sealed stage, end to end over loopback (docs/routing.md "Sealed states in the live
 * pipeline"): a cheating EU provider commits wrong checkpoints of an EU-only stage in a sealed job;
 * the EU verifier opens the sealed states, finds the mismatch and serves its own states sealed; the
 * bisection's referee — also inside the EU, with the key released to it — opens the agreed state and
 * executes the one step; the cheater is slashed and the stage re-runs and settles on the honest EU
 * provider. Every verifier and referee holds the key; a node outside the EU is never drawn.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Coordinator } from "../coordinator/coordinator.ts";
import { startTestCoordinator, testIdentity } from "../coordinator/test-kit.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { generateJobKey } from "../protocol/job-crypto.node.ts";
import { type Client, createClient, signAndSubmit, submitJob } from "../sdk/index.ts";
import { releaseStageKeys } from "../sdk/release-stage-keys.ts";
import type { Provider, ProviderNode, StartProviderOptions } from "./provider.ts";
import { finishedJob, type TestAgents, testAgents } from "./test-kit.ts";

const node = (
  name: string,
  country: string,
  jurisdictions: string[],
  resourceClass: string,
): ProviderNode => ({
  name,
  city: name,
  country,
  jurisdictions,
  latE6: 50_000_000,
  lonE6: 8_000_000,
  resourceClass,
  capacity: 2,
});

const requester = testIdentity("sealed-dispute-requester");
let kit: TestAgents;
let coordinator: Coordinator;
let client: Client;
const keyErrors: string[] = [];

function agent(
  name: string,
  n: ProviderNode,
  price: bigint,
  extra: Partial<StartProviderOptions> = {},
): Promise<Provider> {
  return kit.start(coordinator.url, testIdentity(name), n, price, {
    onEvent: (e) => {
      if (e.type === "error") keyErrors.push(`${n.name}: ${e.error.code} ${e.error.message}`);
    },
    ...extra,
  });
}

let cheater: Provider;
let honest: Provider;
let outsider: Provider;

before(async () => {
  kit = testAgents("sealed-dispute");
  coordinator = await startTestCoordinator({
    params: { verificationWindowMs: 1_500, startDeadlineMs: 20_000, runGraceMs: 20_000 },
  });
  client = createClient({ url: coordinator.url, ed: nodeEd25519 });
  cheater = await agent("sd-cheat", node("cheat-gpu", "DE", ["DE", "EU"], "gpu"), 50n, {
    cheat: { kind: "wrong-step" },
  });
  honest = await agent("sd-honest", node("honest-gpu", "FR", ["FR", "EU"], "gpu"), 300n);
  await agent("sd-muc", node("muc-cpu", "DE", ["DE", "EU"], "cpu"), 100n);
  await agent("sd-par", node("par-cpu", "FR", ["FR", "EU"], "cpu"), 100n);
  outsider = await agent("sd-sin", node("sin-cpu", "SG", ["SG"], "cpu"), 100n);
  await signAndSubmit(client, { identity: requester, type: "faucet", body: { amount: "100000000" } });
});

after(async () => {
  await kit?.stop();
  await coordinator?.stop();
});

test("a cheater on a sealed EU-only stage is caught by an EU verifier and an EU referee who open its sealed states; the stage settles on the honest provider", async () => {
  const { jobId } = await submitJob(client, {
    identity: requester,
    spec: {
      budget: 5_000_000n,
      sealed: true,
      stages: [
        {
          name: "train",
          program: "mlp-train",
          params: { epochs: 1, hiddenLayers: [8], vocabularySize: 128, seed: 9 },
          resourceClass: "gpu",
          units: 1,
          seconds: 30,
          maxPricePerUnitSecond: 1_000n,
          after: [],
          inputs: [],
          jurisdictions: ["EU"],
          verification: "spot",
        },
      ],
    },
  });
  const stop = new AbortController();
  const releasing = releaseStageKeys(client, {
    identity: requester,
    jobId,
    jobKey: generateJobKey(),
    watch: { intervalMs: 50, signal: stop.signal },
  });
  const job = await finishedJob(client, jobId, 180_000);
  stop.abort();
  const released = await releasing;
  const stage = job.stages[0]!;
  assert.equal(stage.status, "settled", stage.failure);
  assert.equal(stage.provider, honest.publicKey, "re-run on the honest EU provider");
  const caught = stage.checks?.find((c) => c.provider === cheater.publicKey);
  assert.equal(caught?.outcome, "fraud-proven", JSON.stringify(stage.checks));
  assert.ok(caught?.referee !== undefined, "decided by a referee's one step");
  const holders = new Set(stage.keys?.map((k) => k.to));
  for (const c of stage.checks ?? []) {
    for (const who of [c.verifier, c.referee]) {
      if (who !== undefined) assert.ok(holders.has(who), "every verifier and referee held the key");
    }
  }
  assert.ok(!holders.has(outsider.publicKey), "the node outside the EU never held the key");
  assert.deepEqual(released.refused, []);
  assert.deepEqual(
    keyErrors.filter((e) => /NOT_AUTHORIZED|CORRUPTED/.test(e)),
    [],
    "no agent failed to open a sealed state",
  );
});
