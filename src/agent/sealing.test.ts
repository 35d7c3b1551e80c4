/**
 * Sealed states end to end over loopback (issue 5 item 4, docs/routing.md "Sealed states in the live
 * pipeline"): an EU-only, spot-checked stage on a real network of agents — an EU provider, an EU
 * verifier, a cheaper provider in the US and a relay in Switzerland — with an in-process
 * coordinator. The requester releases the stage key through the log; the core refuses it for the
 * US node and the relay; everything the US node and the relay receive (over HTTP and in their blob
 * stores), and every state the EU provider mirrors to the coordinator, is checked for a window of
 * the plaintext checkpoint state; and the stage still settles after a spot check by the EU verifier.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Coordinator } from "../coordinator/coordinator.ts";
import { startTestCoordinator, testIdentity } from "../coordinator/test-kit.ts";
import { checkpointSteps } from "../protocol/checkpoints.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import type { Cid, JobId } from "../protocol/ids.ts";
import {
  generateJobKey,
  isSealedBlob,
  openBlob,
  openStageOutput,
  stageKey,
} from "../protocol/job-crypto.node.ts";
import { sealStageKeyTo } from "../protocol/key-wrap.node.ts";
import type { StageSpec } from "../protocol/messages.ts";
import { hashStateBytes } from "../runtime/program.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import { type Client, createClient, signAndSubmit, submitJob } from "../sdk/index.ts";
import { releaseStageKeys } from "../sdk/release-stage-keys.ts";
import { fetchBlob } from "./blob-fetch.ts";
import type { Provider, ProviderNode, StartProviderOptions } from "./provider.ts";
import { relayUrls } from "./relay.ts";
import { finishedJob, type TestAgents, testAgents } from "./test-kit.ts";

const node = (
  name: string,
  country: string,
  jurisdictions: string[],
  lat: number,
  lon: number,
  resourceClass: string,
): ProviderNode => ({
  name,
  city: name,
  country,
  jurisdictions,
  latE6: Math.round(lat * 1e6),
  lonE6: Math.round(lon * 1e6),
  resourceClass,
  capacity: 2,
});

const requester = testIdentity("sealing-requester");
let kit: TestAgents;
let coordinator: Coordinator;
let client: Client;
let fra: Provider;
let muc: Provider;
let nyc: Provider;
let zrh: Provider;
/** Response bodies the US provider and the relay received; request bodies the EU provider sent. */
const outsideReceived: Uint8Array[] = [];
const mirrored: Uint8Array[] = [];

/** A fetch that keeps a copy of every response body. */
const recording =
  (into: Uint8Array[]): FetchLike =>
  async (input, init) => {
    const response = await fetch(input, init);
    into.push(new Uint8Array(await response.clone().arrayBuffer()));
    return response;
  };

function agent(
  identity: string,
  n: ProviderNode,
  price: bigint,
  extra: Partial<StartProviderOptions> = {},
): Promise<Provider> {
  return kit.start(coordinator.url, testIdentity(identity), n, price, { progressEveryMs: 0, ...extra });
}

before(async () => {
  kit = testAgents("sealing");
  coordinator = await startTestCoordinator({
    params: { verificationWindowMs: 1_500, startDeadlineMs: 20_000, runGraceMs: 20_000 },
  });
  client = createClient({ url: coordinator.url, ed: nodeEd25519 });
  fra = await agent("sealing-fra", node("fra-gpu", "DE", ["DE", "EU"], 50.1109, 8.6821, "gpu"), 200n, {
    fetch: (async (input, init) => {
      if (init?.method === "PUT" && input.includes("/v1/blobs/") && init.body instanceof Uint8Array) {
        mirrored.push(init.body);
      }
      return fetch(input, init);
    }) satisfies FetchLike,
  });
  muc = await agent("sealing-muc", node("muc-cpu", "DE", ["DE", "EU"], 48.1351, 11.582, "cpu"), 100n);
  // Cheaper than the EU provider: only the stage's jurisdictions keep the stage away from it.
  nyc = await agent("sealing-nyc", node("nyc-gpu", "US", ["US"], 40.7128, -74.006, "gpu"), 50n, {
    fetch: recording(outsideReceived),
  });
  zrh = await agent("sealing-zrh", node("zrh-relay", "CH", ["CH"], 47.3769, 8.5417, "relay"), 10n, {
    fetch: recording(outsideReceived),
  });
  await signAndSubmit(client, { identity: requester, type: "faucet", body: { amount: "100000000" } });
});

after(async () => {
  await kit?.stop();
  await coordinator?.stop();
});

const train: StageSpec = {
  name: "train",
  program: "mlp-train",
  params: { epochs: 1, hiddenLayers: [8], vocabularySize: 128, seed: 5 },
  resourceClass: "gpu",
  units: 1,
  seconds: 30,
  maxPricePerUnitSecond: 1_000n,
  after: [],
  inputs: [],
  jurisdictions: ["EU"],
  verification: "spot",
};

const contains = (hay: Uint8Array, needle: Uint8Array) =>
  Buffer.from(hay).indexOf(Buffer.from(needle)) !== -1;

function filesUnder(path: string): string[] {
  return readdirSync(path).flatMap((name) => {
    const full = join(path, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

test("an EU-only stage: its key reaches only EU nodes, non-EU nodes and the relay never see its plaintext states, and it settles after a spot check by an EU verifier", async () => {
  const jobKey = generateJobKey();
  const { jobId } = await submitJob(client, {
    identity: requester,
    spec: { budget: 5_000_000n, stages: [train], sealed: true },
  });
  const key = stageKey(jobKey, jobId as JobId, "train");
  const stopReleasing = new AbortController();
  const releasing = releaseStageKeys(client, {
    identity: requester,
    jobId,
    jobKey,
    watch: { intervalMs: 50, signal: stopReleasing.signal },
  });

  // (a) The core refuses the key for the US provider and for the relay, whoever asks.
  for (const outsider of [nyc, zrh]) {
    const sealed = sealStageKeyTo(outsider.publicKey, key, { jobId, stage: "train" });
    await assert.rejects(
      signAndSubmit(client, {
        identity: requester,
        type: "releaseKey",
        body: { jobId, stage: "train", to: outsider.publicKey, sealed },
      }),
      (e) => isSwitchyardError(e, "NOT_AUTHORIZED"),
    );
  }

  // (c) It settles, checked by the EU verifier.
  const job = await finishedJob(client, jobId, 120_000);
  stopReleasing.abort();
  const released = await releasing;
  const stage = job.stages[0]!;
  assert.equal(stage.status, "settled", stage.failure);
  assert.equal(stage.provider, fra.publicKey, "the cheaper US provider is outside the stage's EU");
  const check = stage.checks?.at(-1);
  assert.equal(check?.outcome, "verified");
  assert.equal(check?.verifier, muc.publicKey, "the only EU node that is neither provider nor relay");
  assert.deepEqual(new Set(stage.keys?.map((k) => k.to)), new Set([fra.publicKey, muc.publicKey]));
  assert.deepEqual(released.refused, []);

  // The states the EU provider published: sealed, and under the stage key they are the committed ones.
  const manifestBytes = await fetchBlob({ cid: stage.manifest as Cid, sources: [fra.endpoint] });
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes.bytes)) as {
    sealed?: boolean;
    states: Cid[];
    checkpoints: string[];
    steps: number;
    checkpointEvery: number;
  };
  assert.equal(manifest.sealed, true);
  assert.ok(manifest.states.length >= 2, `${manifest.states.length} states`);
  const at = checkpointSteps(manifest.steps, manifest.checkpointEvery);
  const sealedStates: Uint8Array[] = [];
  const plaintexts: Uint8Array[] = [];
  for (const [i, cid] of manifest.states.entries()) {
    const sealed = (await fetchBlob({ cid, sources: [fra.endpoint] })).bytes;
    assert.ok(isSealedBlob(sealed), `state ${i} is sealed`);
    const plaintext = openBlob(key, { jobId, stage: "train" }, sealed);
    assert.equal(hashStateBytes("mlp-train", at[i]!, plaintext), manifest.checkpoints[i]);
    sealedStates.push(sealed);
    plaintexts.push(plaintext);
  }
  const windows = plaintexts.map((p) => p.slice(p.length >> 1, (p.length >> 1) + 32));
  const distinctive = windows[1]!;
  assert.ok(
    distinctive.some((b) => b !== 0),
    "a distinctive window",
  );

  // A relay forwards the sealed states — and refuses the stage's plaintext output.
  for (const [i, cid] of manifest.states.entries()) {
    const via = await fetchBlob({
      cid,
      sources: [zrh.endpoint],
      urls: relayUrls(fra.endpoint, jobId as JobId),
    });
    assert.deepEqual(via.bytes, sealedStates[i]);
  }
  // The stage's output is sealed too, under its output key (not the stage key): the relay forwards
  // ciphertext, which the requester opens with its job key.
  const output = await fetchBlob({
    cid: stage.output as Cid,
    sources: [zrh.endpoint],
    urls: relayUrls(fra.endpoint, jobId as JobId),
  });
  assert.ok(isSealedBlob(output.bytes), "the output is served sealed");
  assert.throws(
    () => openBlob(key, { jobId, stage: "train" }, output.bytes),
    (e) => isSwitchyardError(e, "CORRUPTED"),
  );
  const trained = JSON.parse(
    new TextDecoder().decode(openStageOutput(jobKey, jobId as JobId, "train", output.bytes)),
  ) as Record<string, unknown>;
  assert.equal(typeof trained["trainLoss"], "number");
  assert.deepEqual(
    stage.outputKeys?.map((k) => k.to),
    [fra.publicKey],
    "the output key went only to its provider: no stage reads this output",
  );
  assert.equal(zrh.relay!.stats().refusedUnsealed, 0);
  assert.ok(zrh.relay!.stats().originFetches >= manifest.states.length);

  // (b) Nothing the US node and the relay received, or stored, holds any state's plaintext window;
  // nor does any state the EU provider mirrored to the coordinator.
  assert.ok(outsideReceived.length > 0, "the outsiders' traffic was recorded");
  assert.ok(mirrored.length > 0, "the EU provider mirrored progress states to the coordinator");
  const stored = [join(kit.dir, "nyc-gpu"), join(kit.dir, "zrh-relay")]
    .flatMap(filesUnder)
    .map((f) => readFileSync(f));
  for (const w of windows) {
    for (const body of outsideReceived) assert.ok(!contains(body, w), "an outsider received plaintext");
    for (const file of stored) assert.ok(!contains(file, w), "an outsider stored plaintext");
    for (const body of mirrored) assert.ok(!contains(body, w), "the coordinator was sent plaintext");
  }
  // The windows are real: the same check finds them in the plaintexts it is meant to catch.
  assert.ok(contains(plaintexts[1]!, distinctive));
});
