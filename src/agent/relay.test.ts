/**
 * Relays and encryption over real loopback HTTP: provider blob servers, a relay server and the
 * receiving agent's fetch, with no mocks except injected faults (a refused connection). The relay
 * is "in Zurich" (CH, outside the EU); the EU-only stage runs in Frankfurt and its reader in Paris.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Hono } from "hono";
import {
  type KeyCandidate,
  type KeyReleaseStage,
  keyReleaseDecision,
  planKeyRelease,
} from "../core/routing/key-release.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { findCity, predictRttMs } from "../protocol/geo.ts";
import { contentId, jobIdOf } from "../protocol/hash.ts";
import type { Cid } from "../protocol/ids.ts";
import {
  generateJobKey,
  openBlob,
  type StageKey,
  sealBlob,
  sealedHeaderBytes,
  stageKey,
} from "../protocol/job-crypto.node.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { memoryBlobStore } from "../store/memory-blob-store.ts";
import { fetchBlob } from "./blob-fetch.ts";
import { type BlobServer, startBlobServer } from "./blob-server.ts";
import { type AgentHttpServer, serveApp } from "./http.ts";
import { type RelayRoutes, relayRoutes, relayUrls } from "./relay.ts";
import { fetchSealedBlob, type RelayEndpoint } from "./relay-fetch.ts";

const MB = 1_000_000;
const fast = { initialDelayMs: 2, maxDelayMs: 10, attempts: 2 } as const;
const jobId = jobIdOf("a".repeat(64), 1n);
const jobKey = generateJobKey();

const node = (id: string, city: string, resourceClass: string): KeyCandidate & { city: string } => ({
  id,
  city,
  jurisdictions: findCity(city).jurisdictions,
  resourceClass,
});
const fra = node("fra-gpu", "Frankfurt", "gpu");
const par = node("par-gpu", "Paris", "gpu");
const zrh = node("zrh-relay", "Zurich", "relay");
const nyc = node("nyc-gpu", "New York", "gpu");
const rtt = (a: { city: string }, b: { city: string }) => predictRttMs(findCity(a.city), findCity(b.city));

/** The EU-only training stage on Frankfurt, read by the EU-only evaluation on Paris. */
const stages: KeyReleaseStage[] = [
  { name: "train", jurisdictions: ["EU"], after: [], provider: fra },
  { name: "eval", jurisdictions: ["EU"], after: ["train"], provider: par },
];
const release = planKeyRelease({ stages, relays: [zrh] });
/** What the key distributor hands a node: the stage key only if the rule lists the node. */
function keyFor(nodeId: string, stage: string): StageKey | undefined {
  const plan = release.find((r) => r.stage === stage)!;
  return plan.recipients.includes(nodeId) ? stageKey(jobKey, jobId, stage) : undefined;
}

/** 3 MB of "patient records": text with a distinctive 32-byte marker in the middle. */
const marker = new TextEncoder().encode("EU-ONLY:patient-7731:hba1c=6.9%!");
const plaintext = (() => {
  const line = (i: number) =>
    `record ${i}: age=${(i * 37) % 90}, dx=E11.${i % 10}, visit=${(i * 7919) % 365}\n`;
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < 3 * MB; i++) {
    const l = line(i);
    parts.push(l);
    size += l.length;
  }
  const bytes = new TextEncoder().encode(parts.join(""));
  bytes.set(marker, Math.floor(bytes.length / 2));
  return bytes;
})();

/** Every 32-byte window of the plaintext starting at a multiple of 4,096, and the marker. */
const probes = [
  marker,
  ...Array.from({ length: Math.floor(plaintext.length / 4096) }, (_, i) =>
    plaintext.subarray(i * 4096, i * 4096 + 32),
  ),
];
function assertNoPlaintext(bytes: Uint8Array, what: string): void {
  const hay = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(hay.indexOf(Buffer.from(plaintext)), -1, `${what} holds the whole plaintext`);
  for (const p of probes) assert.equal(hay.indexOf(Buffer.from(p)), -1, `${what} holds plaintext bytes`);
}

/** Bytes seen by a tap, per direction. */
interface Tap {
  readonly received: Uint8Array[];
  readonly served: Uint8Array[];
}
const concat = (parts: readonly Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

let storeFra: BlobStore;
let originFra: BlobServer;
let sealed: Uint8Array;
let cid: Cid;
const servers: AgentHttpServer[] = [];

/** A relay server whose every byte in (from origins) and out (to anyone) is recorded. */
async function tappedRelay(options: Parameters<typeof relayRoutes>[0] = {}): Promise<{
  server: AgentHttpServer;
  routes: RelayRoutes;
  tap: Tap;
}> {
  const tap: Tap = { received: [], served: [] };
  const recordingFetch: FetchLike = async (input, init) => {
    const response = await fetch(input, init);
    tap.received.push(new Uint8Array(await response.clone().arrayBuffer()));
    return response;
  };
  const routes = relayRoutes({ fetch: recordingFetch, ...fast, ...options });
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    tap.served.push(new Uint8Array(await c.res.clone().arrayBuffer()));
  });
  app.route("/", routes.app);
  const server = await serveApp(app, "127.0.0.1", 0);
  servers.push(server);
  return { server, routes, tap };
}

/** A URL on which nothing listens: connections are refused by the OS. */
async function refusingUrl(): Promise<string> {
  const gone = await serveApp(new Hono(), "127.0.0.1", 0);
  await gone.close();
  return gone.url;
}

const endpoint = (id: string, url: string, price = 20_000n): RelayEndpoint => ({
  id,
  url,
  fromSource: { rttMs: rtt(fra, zrh), bytesPerSecond: 100 * MB },
  toDestination: { rttMs: rtt(zrh, par), bytesPerSecond: 100 * MB },
  pricePerGigabyte: price,
});

before(async () => {
  // Frankfurt computes "train" and seals its output with the stage key it was released.
  const trainKey = keyFor(fra.id, "train");
  assert.ok(trainKey !== undefined, "the producer inside the EU gets the key");
  sealed = sealBlob(trainKey, { jobId, stage: "train" }, plaintext);
  storeFra = memoryBlobStore();
  cid = await storeFra.put(sealed);
  originFra = await startBlobServer({ blobs: storeFra, chunkSize: 256 * 1024 });
  servers.push(originFra);
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe("relays carry ciphertext: an EU-only stage's data through a relay in Zurich", () => {
  test("the EU reader gets the exact plaintext through the relay; no byte the relay received or served holds plaintext", async () => {
    const { server, routes, tap } = await tappedRelay({ pricePerGigabyte: 20_000n });
    const received = memoryBlobStore();
    const key = keyFor(par.id, "train");
    assert.ok(key !== undefined, "the EU reader gets the key");
    // A congested direct Frankfurt–Paris path: the relay is predicted faster.
    const result = await fetchSealedBlob({
      cid,
      jobId,
      stage: "train",
      origin: originFra.url,
      bytes: sealed.length,
      direct: { rttMs: rtt(fra, par), bytesPerSecond: 1 * MB },
      relays: [endpoint(zrh.id, server.url)],
      key,
      store: received,
      ...fast,
    });
    assert.equal(result.path.kind, "relay");
    assert.equal(result.path.relay, zrh.id);
    assert.equal(result.plan.reason, "best-predicted");
    assert.equal(result.plan.alternative?.kind, "direct");
    assert.ok(result.path.predictedMs < result.plan.alternative!.predictedMs);
    assert.deepEqual(result.plaintext, plaintext);
    assert.deepEqual(await received.get(cid), sealed, "the reader stores the ciphertext, by its cid");

    // The tap saw the traffic (so the checks below can fail): the ciphertext went in and out.
    const inBytes = concat(tap.received);
    const outBytes = concat(tap.served);
    assert.ok(inBytes.length >= sealed.length && outBytes.length >= sealed.length);
    assert.ok(inBytes.indexOf(Buffer.from(sealed.subarray(sealed.length - 64))) >= 0);
    assert.ok(
      outBytes.indexOf(Buffer.from(sealed.subarray(sealedHeaderBytes + 1000, sealedHeaderBytes + 1064))) >= 0,
    );
    assertNoPlaintext(inBytes, "what the relay received");
    assertNoPlaintext(outBytes, "what the relay served");
    assertNoPlaintext(sealed, "the sealed blob itself");

    // Accounting for settlement: everything forwarded was for this job.
    const [account] = routes.accounting().jobs;
    assert.equal(account?.jobId, jobId);
    assert.equal(account?.bytesForwarded, sealed.length);
    assert.ok(account!.bytesReceived >= sealed.length, "payload plus the origin's manifest");
    assert.equal(account?.fee, BigInt(Math.ceil((sealed.length * 20_000) / 1e9)));
    assert.equal(routes.stats().originFetches, 1);
    const overHttp = (await (await fetch(`${server.url}/v1/relay-accounting`)).json()) as {
      jobs: Array<{ jobId: string; bytesForwarded: number; fee: string }>;
    };
    assert.deepEqual(
      overHttp.jobs.map((j) => [j.jobId, j.bytesForwarded, j.fee]),
      [[jobId, sealed.length, account!.fee.toString()]],
    );
  });

  test("a non-EU provider is refused the key, and the ciphertext it can fetch opens with no other key", async () => {
    assert.deepEqual(keyReleaseDecision(["EU"], nyc, "reader"), {
      release: false,
      reason: "outside-jurisdictions",
    });
    assert.deepEqual(keyReleaseDecision(["EU"], zrh, "relay"), { release: false, reason: "relay" });
    // A placement that put a reader in New York: the rule refuses it the key.
    const withNyc = planKeyRelease({
      stages: [...stages, { name: "report", after: ["train"], provider: nyc }],
      relays: [zrh],
    });
    const train = withNyc.find((r) => r.stage === "train")!;
    assert.ok(!train.recipients.includes(nyc.id));
    assert.ok(train.refused.some((r) => r.node === nyc.id && r.reason === "outside-jurisdictions"));
    assert.ok(!train.recipients.includes(zrh.id));
    assert.equal(keyFor(zrh.id, "train"), undefined);

    // New York can still fetch the content-addressed ciphertext (through the relay)…
    const { server } = await tappedRelay();
    const got = await fetchSealedBlob({
      cid,
      jobId,
      stage: "train",
      origin: originFra.url,
      bytes: sealed.length,
      relays: [endpoint(zrh.id, server.url)],
      ...fast,
    });
    assert.equal(got.plaintext, undefined, "no key, no plaintext");
    assertNoPlaintext(got.sealed, "what New York received");
    // …but no key it could have opens it: another job's key, or the key of a stage it was given.
    const corrupted = (e: unknown) => isSwitchyardError(e, "CORRUPTED");
    assert.throws(
      () => openBlob(stageKey(generateJobKey(), jobId, "train"), { jobId, stage: "train" }, got.sealed),
      corrupted,
    );
    assert.throws(
      () => openBlob(stageKey(jobKey, jobId, "report"), { jobId, stage: "train" }, got.sealed),
      corrupted,
    );
  });

  test("the direct path refuses connections: the fetch falls back to the relay and still decrypts", async () => {
    const { server, routes } = await tappedRelay();
    const dead = await refusingUrl();
    // Injected fault: from Paris, Frankfurt's endpoint refuses connections; the relay reaches it.
    const partitioned: FetchLike = (input, init) =>
      fetch(input.startsWith(originFra.url) ? dead + input.slice(originFra.url.length) : input, init);
    const result = await fetchSealedBlob({
      cid,
      jobId,
      stage: "train",
      origin: originFra.url,
      bytes: sealed.length,
      direct: { rttMs: rtt(fra, par), bytesPerSecond: 100 * MB },
      relays: [endpoint(zrh.id, server.url)],
      key: keyFor(par.id, "train")!,
      fetch: partitioned,
      ...fast,
    });
    assert.equal(result.plan.chosen.kind, "direct", "direct was predicted faster");
    assert.deepEqual(
      result.attempts.map((a) => [a.path.kind, a.error?.code]),
      [
        ["direct", "UNREACHABLE"],
        ["relay", undefined],
      ],
    );
    assert.equal(result.path.relay, zrh.id);
    assert.deepEqual(result.plaintext, plaintext);
    assert.equal(routes.accounting().jobs[0]?.bytesForwarded, sealed.length);
  });

  test("a relay that is down is passed over for the next relay", async () => {
    const { server } = await tappedRelay();
    const result = await fetchSealedBlob({
      cid,
      jobId,
      stage: "train",
      origin: originFra.url,
      bytes: sealed.length,
      relays: [endpoint("a-down", await refusingUrl(), 0n), endpoint("b-up", server.url)],
      ...fast,
    });
    assert.deepEqual(
      result.attempts.map((a) => [a.path.relay, a.error?.code]),
      [
        ["a-down", "UNREACHABLE"],
        ["b-up", undefined],
      ],
    );
    assert.equal(result.plan.reason, "no-direct-path");
  });

  test("error: every path failing is one typed error naming each attempt", async () => {
    const dead = await refusingUrl();
    await assert.rejects(
      fetchSealedBlob({
        cid,
        jobId,
        stage: "train",
        origin: dead,
        bytes: sealed.length,
        direct: { rttMs: 10, bytesPerSecond: 100 * MB },
        relays: [endpoint("r", await refusingUrl())],
        ...fast,
      }),
      (e: unknown) =>
        isSwitchyardError(e, "UNREACHABLE") && /every path failed \(direct, relay r\)/.test(e.message),
    );
  });

  test("a relay refuses to forward a blob that is not sealed, and keeps none of it", async () => {
    const { server, routes, tap } = await tappedRelay();
    const plainStore = memoryBlobStore();
    const plainCid = await plainStore.put(plaintext);
    const careless = await startBlobServer({ blobs: plainStore });
    servers.push(careless);
    await assert.rejects(
      fetchBlob({ cid: plainCid, sources: [server.url], urls: relayUrls(careless.url, jobId), ...fast }),
      (e: unknown) => isSwitchyardError(e, "MALFORMED"),
    );
    assert.equal(routes.stats().refusedUnsealed, 1);
    assert.equal(routes.stats().cachedBlobs, 0);
    assertNoPlaintext(concat(tap.served), "what the relay served");
    // The tripwire fires after the fact: the relay did receive the plaintext. Sealing is the guarantee.
    assert.ok(concat(tap.received).indexOf(Buffer.from(marker)) >= 0);
  });

  test("concurrent receivers share one origin fetch, and the relay serves the blob whole as well", async () => {
    const { server, routes } = await tappedRelay();
    const urls = relayUrls(originFra.url, jobId);
    const results = await Promise.all(
      Array.from({ length: 3 }, () => fetchBlob({ cid, sources: [server.url], urls, ...fast })),
    );
    for (const r of results) assert.deepEqual(r.bytes, sealed);
    assert.equal(routes.stats().originFetches, 1);
    const whole = await fetch(
      `${server.url}/v1/relay/${cid}?from=${encodeURIComponent(originFra.url)}&job=${jobId}`,
    );
    const body = new Uint8Array(await whole.arrayBuffer());
    assert.equal(contentId(body), cid);
    assert.equal(routes.accounting().jobs[0]?.bytesForwarded, 4 * sealed.length);
  });

  test("error: bad relay requests are typed 4xx before anything is fetched", async () => {
    const { server, routes } = await tappedRelay({ allowOrigin: (o) => o === originFra.url });
    const q = (from: string, job: string) => `?from=${encodeURIComponent(from)}&job=${job}`;
    const cases: Array<[string, number, string]> = [
      [`/v1/relay/${cid}${q(originFra.url, "nope")}`, 400, "MALFORMED"],
      [`/v1/relay/${cid}?job=${jobId}`, 400, "MALFORMED"],
      [`/v1/relay/${cid}${q("file:///etc/passwd", jobId)}`, 400, "MALFORMED"],
      [`/v1/relay/${cid}${q(`${originFra.url}/?x=1`, jobId)}`, 400, "MALFORMED"],
      [`/v1/relay/not-a-cid${q(originFra.url, jobId)}`, 400, "MALFORMED"],
      [`/v1/relay/${cid}/chunks/x${q(originFra.url, jobId)}`, 400, "MALFORMED"],
      [`/v1/relay/${cid}${q("http://10.0.0.1:9", jobId)}`, 403, "NOT_AUTHORIZED"],
    ];
    for (const [path, status, code] of cases) {
      const response = await fetch(server.url + path);
      assert.equal(response.status, status, path);
      assert.equal(((await response.json()) as { code: string }).code, code, path);
    }
    assert.equal(routes.stats().originFetches, 0);
    const missing = contentId(new Uint8Array([1]));
    const notThere = await fetch(`${server.url}/v1/relay/${missing}${q(originFra.url, jobId)}`);
    assert.equal(notThere.status, 404);
  });
});
