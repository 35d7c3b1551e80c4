/**
 * Hostile input over HTTP: every attempt gets a typed 4xx or a closed connection, never a crash,
 * and leaves the state hash unchanged (read through GET /v1/status before and after).
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { type ApiError, apiErrorSchema } from "../protocol/api.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { encodeEnvelope, signEnvelope } from "../protocol/envelope.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import type { Coordinator } from "./coordinator.ts";
import { get, post, Signer, startTestCoordinator, statusHash, submit, testIdentity } from "./test-kit.ts";

const alice = testIdentity("alice");
const bob = testIdentity("bob");
const maxBodyBytes = 64 * 1024;

let coordinator: Coordinator;
let base: string;
let signer: Signer;

before(async () => {
  coordinator = await startTestCoordinator({
    limits: { maxBodyBytes, headersTimeoutMs: 300, requestTimeoutMs: 600 },
  });
  base = coordinator.url;
  signer = new Signer(coordinator.net);
  await submit(base, signer.sign(alice, "faucet", { amount: 1_000_000n }));
});
after(() => coordinator.stop());

/** Run a hostile attempt; it must be refused with `status` and `code`, and change nothing. */
async function refused(
  status: number,
  code: ErrorCode,
  attempt: () => Promise<{ status: number; body: unknown }>,
) {
  const hash = await statusHash(base);
  const res = await attempt();
  assert.equal(res.status, status, JSON.stringify(res.body));
  const body = apiErrorSchema.parse(res.body);
  assert.equal(body.code, code, body.message);
  assert.equal(await statusHash(base), hash, "state hash unchanged");
}

/** POST a raw body over a socket of its own, streaming it in chunks without a Content-Length. */
function postChunked(path: string, chunks: number, chunkBytes: number) {
  return new Promise<{ status: number; body: unknown } | { closed: string }>((resolve) => {
    const req = request(
      `${base}${path}`,
      { method: "POST", headers: { "transfer-encoding": "chunked" } },
      (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ closed: e.code ?? e.message }));
    const chunk = `[${'"x",'.repeat(chunkBytes / 4 - 1)}"x"]`;
    let sent = 0;
    const write = () => {
      while (sent < chunks) {
        sent++;
        if (!req.write(chunk)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

/** Open a raw TCP connection, send `head`, then one more byte every `everyMs`, until the server closes it. */
function trickle(head: string, drip: string, everyMs: number) {
  return new Promise<string>((resolve) => {
    const url = new URL(base);
    const socket = connect(Number(url.port), url.hostname);
    let received = "";
    let timer: ReturnType<typeof setInterval> | undefined;
    socket.on("data", (d) => {
      received += d;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(timer);
      resolve(received);
    });
    socket.on("connect", () => {
      socket.write(head);
      timer = setInterval(() => socket.writable && socket.write(drip), everyMs);
    });
  });
}

describe("hostile input over HTTP is refused with a typed 4xx and changes nothing", () => {
  test("error: malformed JSON is MALFORMED (400)", () =>
    refused(400, "MALFORMED", () => post(base, "/v1/messages", '{"v":1,"net":')));

  test("error: a body over the limit with Content-Length is TOO_LARGE (413) before it is read", async () => {
    const env = signer.wire(alice, "transfer", { to: bob.publicKey, amount: 1n });
    await refused(413, "TOO_LARGE", async () => {
      const res = await post(base, "/v1/messages", JSON.stringify({ ...env, pad: "x".repeat(maxBodyBytes) }));
      assert.equal(res.headers.get("connection"), "close");
      return res;
    });
  });

  test("error: a chunked body over the limit is TOO_LARGE (413) or cut off", async () => {
    const hash = await statusHash(base);
    const res = await postChunked("/v1/messages", 64, 4096);
    if ("closed" in res) assert.match(res.closed, /ECONNRESET|EPIPE/);
    else {
      assert.equal(res.status, 413);
      assert.equal((res.body as ApiError).code, "TOO_LARGE");
    }
    assert.equal(await statusHash(base), hash);
  });

  test("error: JSON nested deeper than the limit is TOO_LARGE (413)", () =>
    refused(413, "TOO_LARGE", () =>
      post(base, "/v1/messages", `${"[".repeat(10_000)}${"]".repeat(10_000)}`),
    ));

  test("error: a forged signature is BAD_SIGNATURE (401)", async () => {
    const env = signer.sign(alice, "transfer", { to: bob.publicKey, amount: 1n });
    const forged = encodeEnvelope({ ...env, body: { ...env.body, amount: 999n } });
    await refused(401, "BAD_SIGNATURE", () => post(base, "/v1/messages", forged));
    const byBob = signEnvelope(nodeEd25519, bob, coordinator.net, env.nonce, "transfer", env.body);
    await refused(401, "BAD_SIGNATURE", () =>
      post(base, "/v1/messages", { ...encodeEnvelope(byBob), signer: alice.publicKey }),
    );
  });

  test("error: a replayed message is NONCE_REPLAYED (409)", async () => {
    const env = signer.wire(alice, "transfer", { to: bob.publicKey, amount: 1n });
    await submit(base, env);
    await refused(409, "NONCE_REPLAYED", () => post(base, "/v1/messages", env));
  });

  test("error: unknown fields, wrong types and a number for an amount are MALFORMED (400)", async () => {
    const env = signer.wire(alice, "transfer", { to: bob.publicKey, amount: 1n });
    const body = env["body"] as Record<string, unknown>;
    await refused(400, "MALFORMED", () => post(base, "/v1/messages", { ...env, extra: true }));
    await refused(400, "MALFORMED", () =>
      post(base, "/v1/messages", { ...env, body: { ...body, memo: "hi" } }),
    );
    await refused(400, "MALFORMED", () => post(base, "/v1/messages", { ...env, nonce: 99 }));
    await refused(400, "MALFORMED", () =>
      post(base, "/v1/messages", { ...env, body: { ...body, amount: 1 } }),
    );
    await refused(400, "MALFORMED", () => post(base, "/v1/messages", { ...env, type: "mint" }));
    await refused(400, "MALFORMED", () => post(base, "/v1/messages", [env]));
    await refused(400, "MALFORMED", () => post(base, "/v1/messages", "null"));
  });

  test("error: another network or protocol version is WRONG_NETWORK / WRONG_VERSION (400)", async () => {
    const other = signEnvelope(nodeEd25519, alice, "mainnet", 1_000n, "transfer", {
      to: bob.publicKey,
      amount: 1n,
    });
    await refused(400, "WRONG_NETWORK", () => post(base, "/v1/messages", encodeEnvelope(other)));
    const env = signer.wire(alice, "transfer", { to: bob.publicKey, amount: 1n });
    await refused(400, "WRONG_VERSION", () => post(base, "/v1/messages", { ...env, v: 2 }));
  });

  test("error: bytes that are not UTF-8 are MALFORMED (400)", async () => {
    const hash = await statusHash(base);
    const res = await fetch(`${base}/v1/messages`, {
      method: "POST",
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as ApiError).code, "MALFORMED");
    assert.equal(await statusHash(base), hash);
  });

  test("error: state-machine refusals keep their codes (409 funds, 404 unknown job)", async () => {
    await refused(409, "INSUFFICIENT_FUNDS", () =>
      post(base, "/v1/messages", signer.wire(bob, "transfer", { to: alice.publicKey, amount: 10n })),
    );
    await refused(404, "UNKNOWN_JOB", () =>
      post(base, "/v1/messages", signer.wire(alice, "startStage", { jobId: "ab".repeat(32), stage: "x" })),
    );
  });

  test("error: a batch must be { messages } with at most 256; each item is judged on its own", async () => {
    const env = signer.wire(alice, "transfer", { to: bob.publicKey, amount: 1n });
    await refused(413, "TOO_LARGE", () =>
      post(base, "/v1/messages/batch", { messages: Array(257).fill(env) }),
    );
    await refused(400, "MALFORMED", () => post(base, "/v1/messages/batch", [env]));
    await refused(400, "MALFORMED", () => post(base, "/v1/messages/batch", { messages: [env], more: 1 }));
    const res = await post<{ results: Array<{ code?: string; seq?: number }> }>(base, "/v1/messages/batch", {
      messages: [env, { ...env, sig: "00".repeat(64) }, "junk", env],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.results.map((r) => r.code ?? "receipt"),
      ["receipt", "BAD_SIGNATURE", "MALFORMED", "NONCE_REPLAYED"],
    );
  });

  test("error: bad path and query parameters are MALFORMED; unknown things are 404", async () => {
    await refused(400, "MALFORMED", () => get(base, "/v1/accounts/not-a-key"));
    await refused(400, "MALFORMED", () => get(base, "/v1/jobs?requester=ZZ"));
    await refused(400, "MALFORMED", () => get(base, "/v1/events?from=-1"));
    await refused(400, "MALFORMED", () => get(base, "/v1/events?limit=0"));
    await refused(404, "UNKNOWN_JOB", () => get(base, `/v1/jobs/${"ab".repeat(32)}`));
    await refused(404, "NOT_FOUND", () => get(base, "/v2/anything"));
    await refused(404, "NOT_FOUND", () => post(base, "/v1/status", {}));
  });

  test("error: a client sending its headers one byte at a time is cut off", async () => {
    const hash = await statusHash(base);
    const answer = await trickle("POST /v1/messages HTTP/1.1\r\nHost: x\r\n", "X", 100);
    assert.ok(answer === "" || answer.startsWith("HTTP/1.1 408"), answer);
    assert.equal(await statusHash(base), hash);
  });

  test("error: a client sending its body one byte at a time is cut off", async () => {
    const hash = await statusHash(base);
    const head =
      "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{";
    const answer = await trickle(head, " ", 100);
    assert.ok(answer === "" || answer.startsWith("HTTP/1.1 408"), answer);
    assert.equal(await statusHash(base), hash);
  });

  test("error: connections beyond maxConnections are closed at accept", async () => {
    const limited = await startTestCoordinator({ limits: { maxConnections: 3 } });
    const url = new URL(limited.url);
    const open = () =>
      new Promise<{ closed: Promise<void> }>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () => resolve({ closed }));
        const closed = new Promise<void>((done) => socket.on("close", () => done()));
        socket.on("error", () => {});
      });
    try {
      const held = [await open(), await open(), await open()];
      // The fourth is accepted by the kernel and closed by the server at once, unanswered.
      await (await open()).closed;
      assert.equal(held.length, 3);
    } finally {
      await limited.stop();
    }
  });

  test("the coordinator still serves after all of the above", async () => {
    const receipt = await submit(base, signer.sign(alice, "transfer", { to: bob.publicKey, amount: 1n }));
    assert.ok(receipt.seq > 0);
    assert.equal((await get(base, "/healthz")).status, 200);
  });
});
