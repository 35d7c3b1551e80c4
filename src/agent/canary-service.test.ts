/**
 * Canaries end to end over loopback: a coordinator, the authority's planted-fault provider, a lazy
 * verifier (approves without computing) and a diligent one, all real agents over HTTP. The service
 * plants canaries until the beacon has drawn the lazy verifier for one; that canary proves it wrong
 * by one referee step, and it is slashed and ejected. Canaries checked by the diligent verifier end
 * with it paid and nobody slashed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Coordinator } from "../coordinator/coordinator.ts";
import { startTestCoordinator, testIdentity } from "../coordinator/test-kit.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { type Client, createClient, getAccount, getEvents, signAndSubmit } from "../sdk/index.ts";
import { canaryService } from "./canary-service.ts";
import type { Provider, ProviderNode, StartProviderOptions } from "./provider.ts";
import { type TestAgents, testAgents, testNode } from "./test-kit.ts";

const node = (name: string, city: string, lat: number, lon: number, resourceClass: string): ProviderNode =>
  testNode(name, resourceClass, { city, country: "DE", jurisdictions: ["DE", "EU"], lat, lon });

const authority = testIdentity("canary-authority");
const canaryRequester = testIdentity("canary-requester");
const plantedIdentity = testIdentity("canary-provider");
const lazyIdentity = testIdentity("lazy-verifier");
const diligentIdentity = testIdentity("diligent-verifier");

let kit: TestAgents;
let coordinator: Coordinator;
let client: Client;

function agent(
  identity: typeof authority,
  n: ProviderNode,
  extra: Partial<StartProviderOptions>,
): Promise<Provider> {
  return kit.start(coordinator.url, identity, n, 100n, extra);
}

before(async () => {
  kit = testAgents("canary");
  coordinator = await startTestCoordinator({
    params: {
      verificationWindowMs: 1_500,
      startDeadlineMs: 20_000,
      runGraceMs: 20_000,
      canaryAuthority: authority.publicKey as never,
    },
  });
  client = createClient({ url: coordinator.url, ed: nodeEd25519 });
  await agent(plantedIdentity, node("zrh-gpu", "Zurich", 47.3769, 8.5417, "gpu"), {
    cheat: { kind: "wrong-step" },
  });
  await agent(lazyIdentity, node("fra-cpu", "Frankfurt", 50.1109, 8.6821, "cpu"), { lazy: true });
  await agent(diligentIdentity, node("muc-cpu", "Munich", 48.1351, 11.582, "cpu"), {});
  await signAndSubmit(client, { identity: canaryRequester, type: "faucet", body: { amount: "100000000" } });
});

after(async () => {
  await kit?.stop();
  await coordinator?.stop();
});

test("the lazy verifier is caught by a canary, slashed and ejected; the diligent one is paid and never slashed", async () => {
  const planted = kit.agents[0]!;
  const svc = canaryService({
    client,
    authority,
    requester: canaryRequester,
    provider: { identity: plantedIdentity, endpoint: planted.endpoint, city: "Zurich" },
    template: {
      name: "canary",
      program: "mlp-train",
      params: { epochs: 1, hiddenLayers: [8], vocabularySize: 128, seed: 3 },
      resourceClass: "gpu",
      units: 1,
      seconds: 30,
      maxPricePerUnitSecond: 1_000n,
      after: [],
      inputs: [],
      verification: "spot",
    },
    budget: 1_000_000n,
  });
  const lazyStake = BigInt((await getAccount(client, { key: lazyIdentity.publicKey })).staked);
  const diligentStake = BigInt((await getAccount(client, { key: diligentIdentity.publicKey })).staked);
  const outcomes: string[] = [];
  // Each canary's verifier is drawn from {lazy, diligent} by the beacon: 20 tries miss the lazy
  // one with probability 2^-20.
  for (let i = 0; i < 20 && !outcomes.includes("canary-caught"); i++) {
    const canary = await svc.plant();
    const deadline = Date.now() + 60_000;
    while (canary.outcome === undefined) {
      if (Date.now() > deadline) assert.fail(`canary ${i} did not end: ${JSON.stringify(canary)}`);
      await svc.reveal();
      if (canary.outcome === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    outcomes.push(canary.outcome);
  }
  assert.ok(outcomes.includes("canary-caught"), `outcomes: ${outcomes.join(", ")}`);
  for (const o of outcomes) assert.ok(["canary-passed", "canary-caught"].includes(o), o);
  const lazy = await getAccount(client, { key: lazyIdentity.publicKey });
  assert.equal(BigInt(lazy.staked), lazyStake / 2n, "slashed fraudSlashBps of its stake");
  const diligent = await getAccount(client, { key: diligentIdentity.publicKey });
  assert.equal(BigInt(diligent.staked), diligentStake, "the diligent verifier is never slashed");
  // The governed rate: one canary per 1/rate commitments sequenced so far.
  const commits = (await getEvents(client, { from: 1, limit: 1000 })).filter(
    (e) => e.payload.kind === "msg" && e.payload.env.type === "commitResult",
  ).length;
  const before = svc.canaries.length;
  const atRate = await svc.plantAtRate(500_000);
  assert.equal(atRate, Math.floor(commits / 2));
  assert.equal(svc.canaries.length, before + atRate);
  assert.equal(await svc.plantAtRate(500_000), 0, "nothing more until more commitments arrive");
});
