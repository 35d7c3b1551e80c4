/**
 * A sealed pipeline whose input travels through a relay (issue 5 item 4, docs/routing.md "Sealed
 * outputs and relayed inputs"), over loopback with real agents: an EU-only training stage in
 * Frankfurt hands its model to an evaluation in Singapore. The training output is served only
 * sealed under its output key. The only fault injected: Singapore's connections to Frankfurt are
 * refused (the direct path is down), so the router falls back to the relay in Zurich. The relay
 * carries the model as ciphertext; Singapore opens it with the output key the requester released to
 * it, and the evaluation settles.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Coordinator } from "../coordinator/coordinator.ts";
import { startTestCoordinator, testIdentity } from "../coordinator/test-kit.ts";
import { bandwidthFee } from "../core/routing/relay-path.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Cid, JobId } from "../protocol/ids.ts";
import { generateJobKey, isSealedBlob, openStageOutput } from "../protocol/job-crypto.node.ts";
import type { StageSpec } from "../protocol/messages.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import { type Client, createClient, signAndSubmit, submitJob } from "../sdk/index.ts";
import { releaseStageKeys } from "../sdk/release-stage-keys.ts";
import { trainStage } from "../sim/fixtures.ts";
import { fetchBlob } from "./blob-fetch.ts";
import type { Provider, ProviderEvent, StartProviderOptions } from "./provider.ts";
import { finishedJob, type TestAgents, testAgents, testNode } from "./test-kit.ts";

const requester = testIdentity("relayed-input-requester");
/** µ per 10^9 bytes: Frankfurt's egress and the relay's forwarding price (high, so the fees show). */
const egressPrice = 1_000_000n;
const relayPrice = 2_000_000n;
const transferBudget = 200_000n;
let kit: TestAgents;
let coordinator: Coordinator;
let client: Client;
let fra: Provider;
let sin: Provider;
let zrh: Provider;
let tyo: Provider;
const tyoEvents: ProviderEvent[] = [];
/** Every response body the relay received from the origin. */
const relayReceived: Uint8Array[] = [];
/** Every response body Singapore received. */
const sinReceived: Uint8Array[] = [];
const sinEvents: ProviderEvent[] = [];
let refusedDirect = 0;

const recording =
  (into: Uint8Array[], refuse?: () => string | undefined): FetchLike =>
  async (input, init) => {
    const down = refuse?.();
    if (down !== undefined && input.startsWith(down)) {
      refusedDirect++;
      throw new TypeError("fetch failed: connection refused (injected)");
    }
    const response = await fetch(input, init);
    into.push(new Uint8Array(await response.clone().arrayBuffer()));
    return response;
  };

/** Bytes per second of the congested link (the injected fault): far below any modelled uplink. */
const congestedBytesPerSecond = 20_000;

/** A fetch whose responses from `slow()` arrive at {@link congestedBytesPerSecond}. */
const congested =
  (slow: () => string): FetchLike =>
  async (input, init) => {
    const response = await fetch(input, init);
    if (!input.startsWith(slow())) return response;
    const body = new Uint8Array(await response.arrayBuffer());
    await new Promise((r) => setTimeout(r, (body.length * 1000) / congestedBytesPerSecond));
    return new Response(body, { status: response.status, headers: response.headers });
  };

function agent(identity: string, extra: Partial<StartProviderOptions>, price: bigint): Promise<Provider> {
  return kit.start(coordinator.url, testIdentity(identity), extra.node!, price, {
    progressEveryMs: 0,
    ...extra,
  });
}

before(async () => {
  kit = testAgents("relayed");
  coordinator = await startTestCoordinator({
    params: { verificationWindowMs: 500, startDeadlineMs: 20_000, runGraceMs: 20_000 },
  });
  client = createClient({ url: coordinator.url, ed: nodeEd25519 });
  const place = (country: string, jurisdictions: string[], lat: number, lon: number) => ({
    country,
    jurisdictions,
    lat,
    lon,
  });
  fra = await agent(
    "relayed-fra",
    {
      node: testNode("fra-gpu", "gpu", place("DE", ["DE", "EU"], 50.1109, 8.6821)),
      pricePerGigabyte: egressPrice,
    },
    200n,
  );
  zrh = await agent(
    "relayed-zrh",
    {
      node: testNode("zrh-relay", "relay", place("CH", ["CH"], 47.3769, 8.5417)),
      pricePerGigabyte: relayPrice,
      fetch: recording(relayReceived),
    },
    10n,
  );
  sin = await agent(
    "relayed-sin",
    {
      node: testNode("sin-gpu", "gpu", place("SG", ["SG"], 1.3521, 103.8198)),
      // The direct path to Frankfurt is down: Singapore's connections to it are refused.
      fetch: recording(sinReceived, () => fra.endpoint),
      onEvent: (e) => sinEvents.push(e),
    },
    300n,
  );
  tyo = await agent(
    "relayed-tyo",
    {
      node: testNode("tyo-gpu", "gpu", place("JP", ["JP"], 35.6762, 139.6503)),
      // The direct link from Frankfurt is congested (the only fault): its responses crawl.
      fetch: congested(() => fra.endpoint),
      onEvent: (e) => tyoEvents.push(e),
    },
    300n,
  );
  await signAndSubmit(client, { identity: requester, type: "faucet", body: { amount: "100000000" } });
});

after(async () => {
  await kit?.stop();
  await coordinator?.stop();
});

const stage = (spec: Partial<StageSpec> & Pick<StageSpec, "name" | "program">): StageSpec =>
  trainStage({ seconds: 30, ...spec });

const contains = (hay: Uint8Array, needle: Uint8Array) =>
  Buffer.from(hay).indexOf(Buffer.from(needle)) !== -1;

function filesUnder(path: string): string[] {
  return readdirSync(path).flatMap((name) => {
    const full = join(path, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

/** Submits a sealed train (EU) → evaluate (`readerJurisdiction`) job, releases its keys, waits for it. */
async function runSealedPipeline(readerJurisdiction: string, seed: number) {
  const jobKey = generateJobKey();
  const { jobId } = await submitJob(client, {
    identity: requester,
    spec: {
      budget: 5_000_000n,
      sealed: true,
      transferBudget,
      stages: [
        stage({
          name: "train",
          program: "mlp-train",
          params: { epochs: 1, hiddenLayers: [8], vocabularySize: 128, seed },
          jurisdictions: ["EU"],
        }),
        stage({
          name: "evaluate",
          program: "mlp-eval",
          params: { part: "test" },
          after: ["train"],
          jurisdictions: [readerJurisdiction],
        }),
      ],
    },
  });
  const stopReleasing = new AbortController();
  const releasing = releaseStageKeys(client, {
    identity: requester,
    jobId,
    jobKey,
    watch: { intervalMs: 50, signal: stopReleasing.signal },
  });
  const job = await finishedJob(client, jobId, 120_000);
  stopReleasing.abort();
  const released = await releasing;
  assert.deepEqual(released.refused, []);
  return { jobId, jobKey, job };
}

const routedInputs = (events: readonly ProviderEvent[], jobId: string) =>
  events.filter(
    (e): e is Extract<ProviderEvent, { type: "inputPath" }> => e.type === "inputPath" && e.jobId === jobId,
  );

test("the direct path is down: the sealed model reaches Singapore through the relay, which sees only ciphertext", async () => {
  const { jobId, jobKey, job } = await runSealedPipeline("SG", 5);
  const [train, evaluate] = job.stages;
  assert.equal(train?.status, "settled", train?.failure);
  assert.equal(evaluate?.status, "settled", evaluate?.failure);
  assert.equal(train?.provider, fra.publicKey);
  assert.equal(evaluate?.provider, sin.publicKey);
  // The output key of train went to its provider and its reader, never to the relay.
  assert.deepEqual(new Set(train?.outputKeys?.map((k) => k.to)), new Set([fra.publicKey, sin.publicKey]));

  // The router's record: direct was the first choice, it failed, the relay delivered.
  const routed = sinEvents.find(
    (e): e is Extract<ProviderEvent, { type: "inputPath" }> => e.type === "inputPath",
  );
  assert.ok(routed !== undefined, "Singapore routed its input");
  assert.equal(routed.input, "train");
  assert.equal(routed.plan.chosen.kind, "direct", "predicted faster: the direct path");
  assert.deepEqual(
    routed.attempts.map((a) => [a.path.kind, a.error?.code ?? "ok"]),
    [
      ["direct", "UNREACHABLE"],
      ["relay", "ok"],
    ],
  );
  assert.equal(routed.path.relay, zrh.publicKey);
  assert.ok(refusedDirect > 0, "the injected fault was hit");

  // The relay carried ciphertext only: the model it forwarded opens under the output key, and no
  // 32-byte window of the plaintext model occurs in anything the relay received or stored.
  const sealed = await fetchBlob({ cid: train!.output as Cid, sources: [fra.endpoint] });
  assert.ok(isSealedBlob(sealed.bytes));
  const model = openStageOutput(jobKey, jobId as JobId, "train", sealed.bytes);
  assert.ok(model.length > 1_000, `${model.length} bytes of model`);
  const accounting = zrh.relay!.accounting().jobs.find((a) => a.jobId === jobId);
  assert.ok(
    accounting !== undefined && accounting.bytesForwarded >= sealed.bytes.length,
    "the relay forwarded it",
  );
  const stored = filesUnder(join(kit.dir, "zrh-relay")).map((f) => readFileSync(f));
  let windows = 0;
  for (let at = 0; at + 32 <= model.length; at += 4_096) {
    const w = model.slice(at, at + 32);
    windows++;
    for (const body of relayReceived) assert.ok(!contains(body, w), "the relay received plaintext");
    for (const file of stored) assert.ok(!contains(file, w), "the relay stored plaintext");
  }
  assert.ok(windows > 0);
  assert.ok(
    relayReceived.some((b) => contains(b, sealed.bytes.slice(64, 96))),
    "the tap sees the ciphertext it carried",
  );

  // Singapore acknowledged the bytes it received through the relay; the core paid Frankfurt's egress
  // and the relay's fee from the transfer budget, at the prices in their offers, and refunded the rest.
  assert.equal(train?.outputBytes, sealed.bytes.length, "the commitment declared the sealed size");
  assert.deepEqual(
    evaluate?.transfers?.map((t) => [t.input, t.bytes, t.via, t.egressFee, t.relayFee]),
    [
      [
        train!.output,
        sealed.bytes.length,
        zrh.publicKey,
        bandwidthFee(sealed.bytes.length, egressPrice).toString(),
        bandwidthFee(sealed.bytes.length, relayPrice).toString(),
      ],
    ],
  );
  const fees = bandwidthFee(sealed.bytes.length, egressPrice) + bandwidthFee(sealed.bytes.length, relayPrice);
  assert.ok(fees > 0n);
  assert.equal(job.transferPaid, fees.toString());
  const spent = job.stages.reduce((n, s) => n + BigInt(s.paid ?? "0") + BigInt(s.fee ?? "0"), 0n);
  assert.equal(
    BigInt(job.refund ?? "0"),
    5_000_000n - spent - fees,
    "the unspent transfer budget is refunded",
  );

  // The evaluation used the model: its sealed output opens to an accuracy.
  const result = await fetchBlob({ cid: evaluate!.output as Cid, sources: [sin.endpoint] });
  const report = JSON.parse(
    new TextDecoder().decode(openStageOutput(jobKey, jobId as JobId, "evaluate", result.bytes)),
  ) as Record<string, unknown>;
  assert.equal(typeof report["accuracy"], "number");
});

test("a congested direct path, once measured, makes the relay the predicted-faster first choice", async () => {
  // First job: nothing measured yet, so the model predicts; direct is faster by it, and is taken.
  const first = await runSealedPipeline("JP", 11);
  assert.ok(
    first.job.stages.every((s) => s.status === "settled"),
    JSON.stringify(first.job.stages),
  );
  const [before] = routedInputs(tyoEvents, first.jobId);
  assert.equal(before?.plan.reason, "best-predicted");
  assert.equal(before?.plan.chosen.kind, "direct");
  assert.equal(before?.path.kind, "direct", "delivered, slowly, over the congested link");
  const direct = before!.plan.chosen.predictedMs;

  // Second job: the congested link was measured, and its measurement replaces the model. The relay,
  // predicted by the model, is now faster: it is the first choice and delivers.
  const second = await runSealedPipeline("JP", 12);
  assert.ok(
    second.job.stages.every((s) => s.status === "settled"),
    JSON.stringify(second.job.stages),
  );
  const [after] = routedInputs(tyoEvents, second.jobId);
  assert.equal(after?.plan.reason, "best-predicted");
  assert.equal(after?.plan.chosen.kind, "relay");
  assert.equal(after?.plan.chosen.relay, zrh.publicKey);
  assert.equal(after?.plan.alternative?.kind, "direct");
  assert.ok(
    after!.plan.alternative!.predictedMs > after!.plan.chosen.predictedMs,
    `measured direct ${after!.plan.alternative!.predictedMs} ms vs relayed ${after!.plan.chosen.predictedMs} ms`,
  );
  assert.ok(after!.plan.alternative!.predictedMs > direct, "the measurement is slower than the model said");
  assert.deepEqual(
    after?.attempts.map((a) => [a.path.kind, a.error?.code ?? "ok"]),
    [["relay", "ok"]],
  );
  // The receipt names the relay: its fee was paid from the transfer budget.
  const evaluate = second.job.stages.find((s) => s.name === "evaluate");
  assert.equal(evaluate?.provider, tyo.publicKey);
  assert.equal(evaluate?.transfers?.[0]?.via, zrh.publicKey);
});
