/**
 * Hostile input over /v1/stream: every bad frame gets a typed error frame or a closed connection,
 * never a crash, and leaves the state hash unchanged.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { type StreamFrame, streamFrameSchema } from "../protocol/api.ts";
import { encodeEnvelope } from "../protocol/envelope.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import type { Coordinator } from "./coordinator.ts";
import { get, Signer, startTestCoordinator, statusHash, submit, testIdentity, waitFor } from "./test-kit.ts";

const alice = testIdentity("alice");
const bob = testIdentity("bob");
const maxFrameBytes = 16 * 1024;
const maxStreamClients = 6;

let coordinator: Coordinator;
let base: string;
let signer: Signer;

before(async () => {
  coordinator = await startTestCoordinator({
    limits: { maxBodyBytes: maxFrameBytes, maxStreamClients, pingIntervalMs: 100, maxBadFrames: 4 },
  });
  base = coordinator.url;
  signer = new Signer(coordinator.net);
  await submit(base, signer.sign(alice, "faucet", { amount: 1_000_000n }));
});
after(() => coordinator.stop());

interface Stream {
  readonly ws: WebSocket;
  readonly frames: StreamFrame[];
  readonly closed: Promise<number>;
  frame<T extends StreamFrame>(what: string, match: (f: StreamFrame) => f is T): Promise<T>;
  error(code: ErrorCode, id?: string): Promise<Extract<StreamFrame, { type: "error" }>>;
}

async function open(query = ""): Promise<Stream> {
  const ws = new WebSocket(`${base.replace(/^http/, "ws")}/v1/stream${query}`);
  const frames: StreamFrame[] = [];
  // Every frame the coordinator sends must match the API schema.
  ws.on("message", (data) => frames.push(streamFrameSchema.parse(JSON.parse(String(data)))));
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const seen = new Set<StreamFrame>();
  const frame = <T extends StreamFrame>(what: string, match: (f: StreamFrame) => f is T) =>
    waitFor(what, () => {
      const found = frames.find((f) => !seen.has(f) && match(f));
      if (found !== undefined) seen.add(found);
      return found as T | undefined;
    });
  return {
    ws,
    frames,
    closed,
    frame,
    error: (code, id) =>
      frame(
        `error ${code}`,
        (f): f is Extract<StreamFrame, { type: "error" }> =>
          f.type === "error" && f.error.code === code && f.id === id,
      ),
  };
}

const isReceipt =
  (id: string) =>
  (f: StreamFrame): f is Extract<StreamFrame, { type: "receipt" }> =>
    f.type === "receipt" && f.id === id;

/** Run `attempt` and check the state hash did not move. */
async function unchanged(attempt: () => Promise<void>): Promise<void> {
  const hash = await statusHash(base);
  await attempt();
  assert.equal(await statusHash(base), hash, "state hash unchanged");
}

describe("hostile input over WebSocket gets an error frame or a close, and changes nothing", () => {
  test("a valid submission gets a receipt frame; its replay gets NONCE_REPLAYED", async () => {
    const s = await open();
    const env = signer.wire(alice, "transfer", { to: bob.publicKey, amount: 1n });
    s.ws.send(JSON.stringify({ type: "submit", id: "t1", envelope: env }));
    const { receipt } = await s.frame("receipt t1", isReceipt("t1"));
    assert.equal(receipt.coordinator, coordinator.publicKey);
    await unchanged(async () => {
      s.ws.send(JSON.stringify({ type: "submit", id: "t2", envelope: env }));
      await s.error("NONCE_REPLAYED", "t2");
    });
    s.ws.close();
  });

  test("error: malformed JSON, wrong frame shape, binary and deep nesting get typed error frames", async () => {
    const s = await open();
    await unchanged(async () => {
      s.ws.send("{not json");
      await s.error("MALFORMED");
      s.ws.send(JSON.stringify({ type: "submit", id: "x1", envelope: {}, extra: 1 }));
      await s.error("MALFORMED", "x1");
      s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      await s.error("MALFORMED");
      s.ws.send(`${"[".repeat(1000)}${"]".repeat(1000)}`);
      await s.error("TOO_LARGE");
    });
    s.ws.close();
  });

  test("error: bad signature, unknown fields and wrong types in the envelope are refused per id", async () => {
    const s = await open();
    const env = signer.sign(alice, "transfer", { to: bob.publicKey, amount: 1n });
    const wire = encodeEnvelope(env);
    await unchanged(async () => {
      s.ws.send(JSON.stringify({ type: "submit", id: "sig", envelope: { ...wire, sig: "00".repeat(64) } }));
      await s.error("BAD_SIGNATURE", "sig");
      s.ws.send(JSON.stringify({ type: "submit", id: "field", envelope: { ...wire, memo: "x" } }));
      await s.error("MALFORMED", "field");
      s.ws.send(JSON.stringify({ type: "submit", id: "type", envelope: { ...wire, nonce: 5 } }));
      await s.error("MALFORMED", "type");
    });
    s.ws.close();
  });

  test("error: a frame over the size limit closes the connection with 1009", async () => {
    const s = await open();
    await unchanged(async () => {
      s.ws.send(JSON.stringify({ type: "submit", id: "big", envelope: "x".repeat(maxFrameBytes) }));
      assert.equal(await s.closed, 1009);
    });
  });

  test("error: a client that keeps sending bad frames is disconnected with 1008", async () => {
    const s = await open();
    await unchanged(async () => {
      for (let i = 0; i < 10; i++) s.ws.send("junk");
      assert.equal(await s.closed, 1008);
    });
  });

  test("error: a bad subscription is refused at the upgrade with 400", async () => {
    for (const query of ["?provider=nothex", `?job=${"ab".repeat(32)}&provider=${alice.publicKey}`]) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${base.replace(/^http/, "ws")}/v1/stream${query}`);
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("error", () => {});
      });
      assert.equal(status, 400, query);
    }
  });

  test("error: clients beyond the limit are refused with 503", async () => {
    const streams = [];
    while (streams.length < maxStreamClients) {
      try {
        streams.push(await open());
      } catch {
        break;
      }
    }
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${base.replace(/^http/, "ws")}/v1/stream`);
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => {});
    });
    assert.equal(status, 503);
    for (const s of streams) s.ws.close();
    await Promise.all(streams.map((s) => s.closed));
  });

  test("error: a client trickling a frame one byte at a time never answers a ping and is cut off", async () => {
    const url = new URL(base);
    await unchanged(
      () =>
        new Promise<void>((resolve) => {
          const socket = connect(Number(url.port), url.hostname);
          let timer: ReturnType<typeof setInterval> | undefined;
          socket.on("error", () => {});
          socket.on("close", () => {
            clearInterval(timer);
            resolve();
          });
          socket.once("data", () => {
            // Upgraded: start a masked text frame of 200 bytes and send it a byte at a time. The
            // bytes form a valid frame, so only the unanswered heartbeat can end the connection.
            socket.write(Buffer.from([0x81, 0x80 | 126, 0, 200]));
            let sent = 0;
            timer = setInterval(() => {
              if (socket.writable && sent++ < 204) socket.write("a");
            }, 50);
          });
          socket.write(
            `GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          );
        }),
    );
  });

  test("the coordinator still serves HTTP and streams after all of the above", async () => {
    assert.equal((await get(base, "/healthz")).status, 200);
    const s = await open(`?provider=${alice.publicKey}`);
    await s.frame("hello", (f): f is StreamFrame => f.type === "hello");
    s.ws.close();
  });
});
