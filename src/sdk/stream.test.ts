/**
 * subscribeAssignments and watchJob against a small real HTTP + WebSocket server of this test's
 * own, which can drop every connection as a restarting coordinator does.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import type { Assignment, JobView, StreamFrame } from "../protocol/api.ts";
import { createClient } from "./create-client.ts";
import { subscribeAssignments } from "./subscribe-assignments.ts";
import { watchJob } from "./watch-job.ts";

const provider = "a".repeat(64);
const jobId = "b".repeat(64);
const assignment = (stage: string): Assignment => ({
  jobId,
  stage,
  provider,
  offerId: "c".repeat(64),
  program: "mlp-train",
  params: {},
  inputs: [],
  pricePerUnitSecond: "10",
  status: "matched",
  deadline: 1,
});
const jobView = (status: "open" | "finished", stageStatus: string): JobView => ({
  id: jobId,
  requester: "d".repeat(64),
  budget: "100",
  submittedAt: 1,
  status,
  escrow: "0",
  stages: [
    {
      name: "train",
      program: "mlp-train",
      status: stageStatus,
      resourceClass: "gpu",
      units: 1,
      seconds: 1,
      after: [],
      attempts: 1,
    },
  ],
});

let server: Server;
let wss: WebSocketServer;
let url = "";
let open: Assignment[] = [];
let job: JobView = jobView("open", "matched");
let connections = 0;
let catchUps = 0;

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    res.setHeader("content-type", "application/json");
    if (path === `/v1/providers/${provider}/assignments`) {
      catchUps++;
      return void res.end(JSON.stringify({ assignments: open }));
    }
    if (path === `/v1/jobs/${jobId}`) return void res.end(JSON.stringify(job));
    res.statusCode = 404;
    res.end(JSON.stringify({ code: "NOT_FOUND", message: path, details: {} }));
  });
  wss = new WebSocketServer({ server, path: "/v1/stream" });
  wss.on("connection", (socket) => {
    connections++;
    socket.send(JSON.stringify({ type: "hello", net: "test", seq: 0, coordinator: "e".repeat(64) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  await new Promise((resolve) => server.close(resolve));
});

function broadcast(frame: StreamFrame): void {
  for (const c of wss.clients) c.send(JSON.stringify(frame));
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), `timed out waiting for ${what}`);
}

describe("subscribeAssignments", () => {
  test("catches up after every reconnect: an assignment made while disconnected is not missed, and open ones come again", async () => {
    const client = createClient({ url, WebSocket });
    open = [assignment("first")];
    const controller = new AbortController();
    const seen: string[] = [];
    const statuses: string[] = [];
    const done = (async () => {
      for await (const a of subscribeAssignments(client, {
        provider,
        signal: controller.signal,
        backoff: { initialDelayMs: 10, maxDelayMs: 50 },
        onStatus: (s) => statuses.push(s.type),
      })) {
        seen.push(a.stage);
      }
    })();
    await until("the catch-up", () => seen.length === 1);
    broadcast({ type: "assignment", assignment: assignment("pushed") });
    await until("the pushed assignment", () => seen.length === 2);
    // The coordinator restarts: every socket drops, and an assignment is made before the agent is back.
    open = [assignment("first"), assignment("pushed"), assignment("while-away")];
    const before = connections;
    for (const c of wss.clients) c.terminate();
    await until("the reconnect", () => connections > before && seen.length === 5);
    controller.abort();
    await done;
    assert.deepEqual(
      seen,
      ["first", "pushed", "first", "pushed", "while-away"],
      "nothing missed; after the reconnect every open assignment once more",
    );
    assert.ok(catchUps >= 2, "a catch-up GET after each connect");
    assert.ok(statuses.includes("closed") && statuses.filter((s) => s === "open").length >= 2);
  });

  test("within a connection an exact repeat is dropped, a changed status is not; another provider's never arrives", async () => {
    const client = createClient({ url, WebSocket });
    open = [];
    const [connectionsBefore, catchUpsBefore] = [connections, catchUps];
    const seen: string[] = [];
    const iterator = subscribeAssignments(client, { provider });
    const done = (async () => {
      for await (const a of iterator) {
        seen.push(`${a.stage}:${a.status}`);
        if (seen.length === 2) break;
      }
    })();
    await until("a connection", () => connections > connectionsBefore && catchUps > catchUpsBefore);
    broadcast({ type: "assignment", assignment: { ...assignment("s"), provider: "f".repeat(64) } });
    broadcast({ type: "assignment", assignment: assignment("s") });
    broadcast({ type: "assignment", assignment: assignment("s") });
    broadcast({ type: "assignment", assignment: { ...assignment("s"), status: "running" } });
    await done;
    assert.deepEqual(seen, ["s:matched", "s:running"]);
  });
});

describe("watchJob", () => {
  test("yields the job on connect, stage changes as they come, and ends with the finished job", async () => {
    const client = createClient({ url, WebSocket });
    job = jobView("open", "matched");
    const updates: string[] = [];
    const done = (async () => {
      for await (const u of watchJob(client, { id: jobId, backoff: { initialDelayMs: 10 } })) {
        updates.push(
          u.type === "job" ? `job:${u.job.status}` : u.type === "stage" ? `${u.stage}:${u.status}` : u.kind,
        );
      }
    })();
    await until("the first snapshot", () => updates.length === 1);
    broadcast({ type: "stage", jobId, stage: "train", status: "running", seq: 5 });
    await until("the stage update", () => updates.length === 2);
    job = jobView("finished", "settled");
    broadcast({ type: "stage", jobId, stage: "train", status: "settled", seq: 9 });
    await done;
    assert.deepEqual(updates, ["job:open", "train:running", "train:settled", "job:finished"]);
  });
});
