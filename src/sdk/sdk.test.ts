/**
 * The SDK against a small real HTTP server of this test's own, whose POST /v1/messages is the real
 * sequencing path (LocalNetwork: signature, nonce order, apply). The networked coordinator has its
 * own tests against the SDK in sdk-coordinator.test.ts.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { accounts, balanceOf } from "../core/index.ts";
import { toHex } from "../protocol/bytes.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { type Identity, signEnvelope } from "../protocol/envelope.ts";
import { type ErrorCode, isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import { hashCanonical } from "../protocol/hash.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import { LocalNetwork, simIdentity } from "../sim/local-network.ts";
import { createClient } from "./create-client.ts";
import { getAccount } from "./get-account.ts";
import { getJob } from "./get-job.ts";
import { getNodes } from "./get-nodes.ts";
import { getStatus } from "./get-status.ts";
import { signAndSubmit } from "./sign-and-submit.ts";
import { submitJob } from "./submit-job.ts";

const coordinatorKey = "c".repeat(64);
const statusOf: Record<string, number> = { NONCE_REPLAYED: 409, UNKNOWN_JOB: 404 };

interface Fake {
  net: LocalNetwork;
  /** Nonces in the order the server received them. */
  received: bigint[];
  inFlight: number;
  maxInFlight: number;
  /** Answer for GET /v1/nodes: status and raw body. */
  nodes: { status: number; body: string };
  /** Delay before answering a POST, to let concurrent calls overlap if the client allowed it. */
  postDelayMs: number;
}

let server: Server;
let url = "";
let fake: Fake;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, error: SwitchyardError): void {
  send(res, statusOf[error.code] ?? 400, error.toJSON());
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  const { net } = fake;
  if (req.method === "GET" && path === "/v1/status") {
    return send(res, 200, {
      net: net.net,
      coordinator: coordinatorKey,
      seq: net.log.length - 1,
      head: net.headHash,
      time: net.now,
      stateHash: net.stateHash(),
      params: {},
      store: "memory",
      leader: true,
    });
  }
  const account = /^\/v1\/accounts\/([0-9a-f]{64})$/.exec(path);
  if (req.method === "GET" && account !== null) {
    const key = account[1] as PublicKeyHex;
    return send(res, 200, {
      key,
      available: balanceOf(net.state, accounts.available(key)).toString(),
      staked: balanceOf(net.state, accounts.staked(key)).toString(),
      unbonding: "0",
      nonce: (net.state.nonces.get(key) ?? 0n).toString(),
    });
  }
  if (req.method === "GET" && path === "/v1/nodes") {
    res.writeHead(fake.nodes.status, { "content-type": "application/json" });
    return void res.end(fake.nodes.body);
  }
  if (req.method === "GET" && path.startsWith("/v1/jobs/")) {
    return sendError(
      res,
      new SwitchyardError("UNKNOWN_JOB", "no such job", { details: { id: path.slice(9) } }),
    );
  }
  if (req.method === "POST" && path === "/v1/messages") {
    fake.inFlight++;
    fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
    try {
      let text = "";
      for await (const chunk of req) text += chunk;
      fake.received.push(BigInt((JSON.parse(text) as { nonce: string }).nonce));
      await sleep(fake.postDelayMs);
      const outcome = net.submitWire(text);
      if (!outcome.ok) return sendError(res, outcome.error);
      return send(res, 200, {
        net: net.net,
        seq: outcome.receipt.seq,
        hash: outcome.receipt.hash,
        time: net.now,
        coordinator: coordinatorKey,
        sig: "0".repeat(128),
      });
    } finally {
      fake.inFlight--;
    }
  }
  send(res, 404, { code: "NOT_FOUND", message: `no route ${path}`, details: {} });
}

before(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((e) =>
      send(res, 500, { code: "STORE_UNAVAILABLE", message: String(e), details: {} }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  fake = {
    net: new LocalNetwork({ net: "sdk-test" }),
    received: [],
    inFlight: 0,
    maxInFlight: 0,
    nodes: { status: 200, body: JSON.stringify({ nodes: [] }) },
    postDelayMs: 0,
  };
});

const alice = simIdentity("sdk-alice");
/** Sign and sequence a faucet message with the identity's next nonce, bypassing the client. */
function asOtherProcess(who: Identity): void {
  const nonce = (fake.net.state.nonces.get(who.publicKey) ?? 0n) + 1n;
  const outcome = fake.net.submit(
    signEnvelope(nodeEd25519, who, fake.net.net, nonce, "faucet", { amount: 1n }),
  );
  assert.ok(outcome.ok);
}
const withCode = (code: ErrorCode) => (e: unknown) => isSwitchyardError(e, code);

describe("signAndSubmit: the per-identity nonce cache", () => {
  test("concurrent calls from one identity get consecutive nonces and are sent one at a time, in call order", async () => {
    const client = createClient({ url, ed: nodeEd25519 });
    fake.postDelayMs = 5;
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        signAndSubmit(client, { identity: alice, type: "faucet", body: { amount: "1000" } }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.envelope.nonce),
      Array.from({ length: 12 }, (_, i) => BigInt(i + 1)),
    );
    assert.deepEqual(
      fake.received,
      results.map((r) => r.envelope.nonce),
    );
    assert.equal(fake.maxInFlight, 1, "never two submissions of one identity in flight");
    assert.equal(balanceOf(fake.net.state, accounts.available(alice.publicKey)), 12_000n);
  });

  test("different identities do not wait for each other", async () => {
    const client = createClient({ url, ed: nodeEd25519 });
    fake.postDelayMs = 20;
    const who = Array.from({ length: 4 }, (_, i) => simIdentity(`sdk-parallel-${i}`));
    await Promise.all(
      who.map((identity) => signAndSubmit(client, { identity, type: "faucet", body: { amount: "5" } })),
    );
    assert.ok(fake.maxInFlight > 1, `identities ran in parallel (max in flight ${fake.maxInFlight})`);
  });

  test("NONCE_REPLAYED after another process used the key refetches the nonce once and succeeds", async () => {
    const client = createClient({ url, ed: nodeEd25519 });
    await signAndSubmit(client, { identity: alice, type: "faucet", body: { amount: "1" } });
    // Another process with the same key moves the nonce on behind this client's back.
    asOtherProcess(alice);
    asOtherProcess(alice);
    const { envelope } = await signAndSubmit(client, {
      identity: alice,
      type: "faucet",
      body: { amount: "1" },
    });
    assert.equal(envelope.nonce, 4n);
    assert.deepEqual(fake.received, [1n, 2n, 4n], "one refused attempt with 2, then 4 after the refetch");
  });

  test("a message refused by the state machine consumes no nonce", async () => {
    const client = createClient({ url, ed: nodeEd25519 });
    await assert.rejects(
      signAndSubmit(client, { identity: alice, type: "bond", body: { amount: "100" } }),
      withCode("INSUFFICIENT_FUNDS"),
    );
    const { envelope } = await signAndSubmit(client, {
      identity: alice,
      type: "faucet",
      body: { amount: "1" },
    });
    assert.equal(envelope.nonce, 1n);
    assert.deepEqual(fake.received, [1n, 1n]);
  });

  test("error: a body that does not fit its type is MALFORMED and nothing is sent", async () => {
    const client = createClient({ url, ed: nodeEd25519 });
    await assert.rejects(
      signAndSubmit(client, { identity: alice, type: "faucet", body: { amount: "-1" } }),
      withCode("MALFORMED"),
    );
    assert.deepEqual(fake.received, []);
  });

  test("submitJob returns the job id the core derives", async () => {
    const client = createClient({ url, ed: nodeEd25519 });
    await signAndSubmit(client, { identity: alice, type: "faucet", body: { amount: "100000000" } });
    const { jobId, envelope } = await submitJob(client, {
      identity: alice,
      spec: {
        budget: "10000000",
        stages: [
          {
            name: "a",
            program: "mlp-train",
            resourceClass: "gpu",
            units: 1,
            seconds: 10,
            maxPricePerUnitSecond: "100",
          },
        ],
      },
    });
    assert.ok(fake.net.state.jobs.has(jobId), "the core holds a job under the returned id");
    assert.equal(
      jobId,
      hashCanonical("job", { requester: alice.publicKey, nonce: envelope.nonce.toString() }),
    );
  });
});

describe("errors", () => {
  test("error: a refused message carries the coordinator's code, message and details", async () => {
    const client = createClient({ url, ed: nodeEd25519 });
    asOtherProcess(alice);
    await assert.rejects(
      signAndSubmit(client, {
        identity: alice,
        type: "transfer",
        body: { to: toHex(new Uint8Array(32).fill(1)), amount: "5" },
      }),
      (e: unknown) =>
        isSwitchyardError(e, "INSUFFICIENT_FUNDS") &&
        e.details["httpStatus"] === 400 &&
        e.details["endpoint"] === "POST /v1/messages",
    );
  });

  test("error: an ApiError body on a GET keeps its code (UNKNOWN_JOB)", async () => {
    const client = createClient({ url });
    await assert.rejects(
      getJob(client, { id: "a".repeat(64) }),
      (e: unknown) => isSwitchyardError(e, "UNKNOWN_JOB") && e.details["id"] === "a".repeat(64),
    );
  });

  test("error: a response that does not match the API schema is MALFORMED naming the endpoint", async () => {
    const client = createClient({ url });
    fake.nodes = { status: 200, body: JSON.stringify({ nodes: [{ id: "not hex" }] }) };
    await assert.rejects(
      getNodes(client),
      (e: unknown) => isSwitchyardError(e, "MALFORMED") && /GET \/v1\/nodes/.test(e.message),
    );
  });

  test("error: a non-JSON 502 from a proxy is STORE_UNAVAILABLE; a bare 404 is NOT_FOUND", async () => {
    const client = createClient({ url });
    fake.nodes = { status: 502, body: "<html>bad gateway</html>" };
    await assert.rejects(
      getNodes(client),
      (e: unknown) => isSwitchyardError(e, "STORE_UNAVAILABLE") && e.details["httpStatus"] === 502,
    );
    fake.nodes = { status: 404, body: "not here" };
    await assert.rejects(getNodes(client), withCode("NOT_FOUND"));
  });

  test("error: an unreachable coordinator is UNREACHABLE naming the URL", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = createClient({ url: `http://127.0.0.1:${port}` });
    await assert.rejects(
      getStatus(client),
      (e: unknown) =>
        isSwitchyardError(e, "UNREACHABLE") && e.message.includes(`unreachable at http://127.0.0.1:${port}`),
    );
  });

  test("error: a request over the timeout is reported as unreachable (timed out)", async () => {
    const client = createClient({ url, ed: nodeEd25519, timeoutMs: 30 });
    fake.postDelayMs = 300;
    await assert.rejects(
      signAndSubmit(client, { identity: alice, type: "faucet", body: { amount: "1" } }),
      (e: unknown) => isSwitchyardError(e, "UNREACHABLE") && e.details["reason"] === "timed out",
    );
    // The outcome was unknown, so the next call asks the coordinator for the nonce again.
    await sleep(350);
    fake.postDelayMs = 0;
    const { envelope } = await signAndSubmit(client, {
      identity: alice,
      type: "faucet",
      body: { amount: "1" },
    });
    assert.equal(
      envelope.nonce,
      2n,
      "the timed-out message was sequenced after all; its nonce is not reused",
    );
    assert.equal((await getAccount(client, { key: alice.publicKey })).nonce, "2");
  });

  test("error: createClient refuses a URL that is not http(s)", () => {
    assert.throws(() => createClient({ url: "ftp://example.org" }), withCode("MALFORMED"));
    assert.throws(() => createClient({ url: "not a url" }), withCode("MALFORMED"));
  });
});
