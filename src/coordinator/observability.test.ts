import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiPaths } from "../protocol/api.ts";
import { messageTypes } from "../protocol/messages.ts";
import type { Coordinator } from "./coordinator.ts";
import { get, post, Signer, startTestCoordinator, submit, testIdentity } from "./test-kit.ts";

const alice = testIdentity("alice");

let coordinator: Coordinator;
before(async () => {
  coordinator = await startTestCoordinator();
});
after(() => coordinator.stop());

/** Every `$ref` in a JSON value. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, out);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe("/openapi.json, /metrics and /healthz", () => {
  test("the OpenAPI 3.1 document covers every path and every $ref resolves", async () => {
    const { status, body } = await get<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { oneOf?: unknown[] }> };
    }>(coordinator.url, apiPaths.openapi);
    assert.equal(status, 200);
    assert.equal(body.openapi, "3.1.0");
    for (const path of Object.values(apiPaths)) {
      if (path === apiPaths.openapi) continue;
      assert.ok(path.replace(/:([a-z]+)/g, "{$1}") in body.paths, `${path} is documented`);
    }
    for (const ref of refs(body)) {
      const name = ref.replace("#/components/schemas/", "");
      assert.ok(name in body.components.schemas, `${ref} resolves`);
    }
    assert.equal(
      body.components.schemas["Envelope"]?.oneOf?.length,
      messageTypes.length,
      "one shape per message type",
    );
  });

  test("metrics count accepted and refused messages, batch sizes, the head and stream clients", async () => {
    const signer = new Signer(coordinator.net);
    await submit(coordinator.url, signer.sign(alice, "faucet", { amount: 5n }));
    await post(coordinator.url, "/v1/messages", "{");
    const { status, body, headers } = await get<string>(coordinator.url, apiPaths.metrics);
    assert.equal(status, 200);
    assert.match(headers.get("content-type") ?? "", /text\/plain/);
    assert.match(body, /switchyard_messages_accepted_total\{type="faucet"\} 1/);
    assert.match(body, /switchyard_messages_rejected_total\{code="MALFORMED"\} 1/);
    assert.match(body, /switchyard_append_batch_events_count [1-9]/);
    assert.match(body, /switchyard_sequencer_latency_seconds_count 1/);
    assert.match(body, new RegExp(`switchyard_log_seq ${coordinator.head().seq}\\b`));
    assert.match(body, /switchyard_http_connections [1-9]/);
    assert.match(body, /switchyard_ws_clients 0/);
  });

  test("healthz reports the durable head", async () => {
    const { status, body } = await get<{ ok: boolean; seq: number }>(coordinator.url, apiPaths.health);
    assert.equal(status, 200);
    assert.deepEqual(body, { ok: true, seq: coordinator.head().seq });
  });
});
