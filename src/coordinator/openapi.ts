/**
 * GET /openapi.json: an OpenAPI 3.1 document generated from the zod schemas the coordinator and
 * the SDK already use (src/protocol/api.ts, the envelope and message schemas, the log event), so the
 * document cannot drift from what is validated. OpenAPI 3.1 schemas are JSON Schema 2020-12, which
 * is what `z.toJSONSchema` emits; shapes are the wire (input) forms — amounts as decimal strings.
 */
import { z } from "zod";
import {
  accountSchema,
  apiErrorSchema,
  apiPaths,
  assignmentSchema,
  clientFrameSchema,
  jobViewSchema,
  marketSchema,
  nodeViewSchema,
  receiptSchema,
  rttPredictionSchema,
  statusSchema,
  streamFrameSchema,
  taskSchema,
} from "../protocol/api.ts";
import { protocolVersion } from "../protocol/envelope.ts";
import { hex32Schema } from "../protocol/ids.ts";
import { systemEventSchema } from "../protocol/log.ts";
import { type MessageType, messageSchemas, messageTypes } from "../protocol/messages.ts";

/** Most envelopes in one POST /v1/messages/batch (api.ts). */
export const maxBatchMessages = 256;

/** The wire form of a signed envelope: one alternative per message type. */
export const wireEnvelopeSchema = z.discriminatedUnion(
  "type",
  messageTypes.map((type: MessageType) =>
    z.strictObject({
      v: z.literal(protocolVersion),
      net: z.string().min(1).max(64),
      type: z.literal(type),
      signer: hex32Schema,
      nonce: z.string().regex(/^[1-9][0-9]{0,19}$/),
      body: messageSchemas[type] as z.ZodType,
      sig: z.string().regex(/^[0-9a-f]{128}$/),
    }),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

/** The wire form of a log event with its hash, as GET /v1/events returns it. */
export const wireLogEventSchema = z.strictObject({
  seq: z.number().int().min(0),
  time: z.number().int(),
  prev: hex32Schema,
  hash: hex32Schema,
  payload: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("msg"), env: wireEnvelopeSchema }),
    z.strictObject({ kind: z.literal("sys"), sys: systemEventSchema }),
  ]),
});

export const batchRequestSchema = z.strictObject({
  messages: z.array(wireEnvelopeSchema).max(maxBatchMessages),
});
export const batchResponseSchema = z.strictObject({
  results: z.array(z.union([receiptSchema, apiErrorSchema])),
});

const components = {
  ApiError: apiErrorSchema,
  Receipt: receiptSchema,
  Envelope: wireEnvelopeSchema,
  BatchRequest: batchRequestSchema,
  BatchResponse: batchResponseSchema,
  Status: statusSchema,
  NodeList: z.strictObject({ nodes: z.array(nodeViewSchema) }),
  RttPrediction: rttPredictionSchema,
  Market: marketSchema,
  JobList: z.strictObject({ jobs: z.array(jobViewSchema) }),
  Job: jobViewSchema,
  Account: accountSchema,
  AssignmentList: z.strictObject({ assignments: z.array(assignmentSchema) }),
  TaskList: z.strictObject({ tasks: z.array(taskSchema) }),
  EventList: z.strictObject({ events: z.array(wireLogEventSchema) }),
  StreamFrame: streamFrameSchema,
  ClientFrame: clientFrameSchema,
};
type Component = keyof typeof components;

const ref = (name: Component) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: Component, description: string) => ({
  description,
  content: { "application/json": { schema: ref(name) } },
});
const error = (description: string) => json("ApiError", description);
const hexParam = (name: string, where: "path" | "query", description: string) => ({
  name,
  in: where,
  required: where === "path",
  description,
  schema: { type: "string", pattern: "^[0-9a-f]{64}$" },
});
/** `/v1/jobs/:id` → `/v1/jobs/{id}`. */
const openapiPath = (path: string) => path.replace(/:([a-z]+)/g, "{$1}");

function schemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(components)) registry.add(schema as z.ZodType, { id });
  const out = z.toJSONSchema(registry, {
    io: "input",
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: "any",
    // Program parameters are checked by a custom refinement (no `__proto__` key) before a record;
    // on the wire they are a JSON object.
    override: (ctx) => {
      if ((ctx.zodSchema as { _zod: { def: { type: string } } })._zod.def.type === "custom") {
        ctx.jsonSchema.type = "object";
      }
    },
  });
  const result: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as Record<string, unknown>;
    result[id] = rest;
  }
  return result;
}

const common = {
  "400": error("MALFORMED, WRONG_NETWORK or WRONG_VERSION"),
  "413": error("TOO_LARGE: body over the size limit or JSON nested too deeply"),
  "503": error("STORE_UNAVAILABLE: storage failed, or the coordinator halted or is stopping"),
};

/** The whole document. Built once per coordinator; it depends on nothing at run time. */
export function openapiDocument(version: string): Record<string, unknown> {
  const get = (summary: string, name: Component, parameters: unknown[] = [], notFound?: string) => ({
    get: {
      summary,
      parameters,
      responses: {
        "200": json(name, summary),
        ...(notFound === undefined ? {} : { "404": error(notFound) }),
        "400": common["400"],
        "503": common["503"],
      },
    },
  });
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchyard coordinator",
      version,
      description:
        "Signed messages in, signed receipts out. Amounts are decimal strings of micro-credits; ids and hashes are lowercase hex; times are ms since the Unix epoch (sequencer time). Error codes: docs/errors.md; statuses: docs/coordinator.md.",
    },
    paths: {
      [apiPaths.messages]: {
        post: {
          summary: "Sequence one signed envelope; 200 only once it is durable",
          requestBody: { required: true, content: { "application/json": { schema: ref("Envelope") } } },
          responses: {
            "200": json("Receipt", "Durable at receipt.seq; signed by the coordinator"),
            ...common,
            "401": error("BAD_SIGNATURE"),
            "403": error("NOT_AUTHORIZED or FAUCET_DISABLED"),
            "404": error("UNKNOWN_ACCOUNT, UNKNOWN_NODE, UNKNOWN_OFFER, UNKNOWN_JOB or UNKNOWN_STAGE"),
            "409": error("NONCE_REPLAYED, INSUFFICIENT_FUNDS, INSUFFICIENT_STAKE, ILLEGAL_TRANSITION, …"),
            "422": error("INVALID_JOB"),
          },
        },
      },
      [apiPaths.messageBatch]: {
        post: {
          summary: `Sequence up to ${maxBatchMessages} envelopes; one result per envelope, in order`,
          requestBody: { required: true, content: { "application/json": { schema: ref("BatchRequest") } } },
          responses: { "200": json("BatchResponse", "A receipt or an error per envelope"), ...common },
        },
      },
      [apiPaths.status]: get("Network, head, state hash and parameters", "Status"),
      [apiPaths.nodes]: get("Registered nodes with their offers", "NodeList"),
      [apiPaths.rtt]: get(
        "Predicted round trip between two nodes: from their reported coordinates, else geography",
        "RttPrediction",
        [
          { ...hexParam("from", "query", "node public key"), required: true },
          { ...hexParam("to", "query", "node public key"), required: true },
        ],
        "UNKNOWN_NODE",
      ),
      [apiPaths.market]: get("Active offers per resource class and region", "Market"),
      [apiPaths.jobs]: get("Jobs, newest first (at most 100)", "JobList", [
        hexParam("requester", "query", "only this requester's jobs"),
      ]),
      [openapiPath(apiPaths.job)]: get(
        "One job with its stages",
        "Job",
        [hexParam("id", "path", "job id")],
        "UNKNOWN_JOB",
      ),
      [openapiPath(apiPaths.account)]: get("Balances and last nonce of a key", "Account", [
        hexParam("key", "path", "public key"),
      ]),
      [openapiPath(apiPaths.assignments)]: get("Matched and running stages of a provider", "AssignmentList", [
        hexParam("key", "path", "provider public key"),
      ]),
      [openapiPath(apiPaths.tasks)]: get(
        "Verification work a node owes: checks, dispute rounds, referee steps",
        "TaskList",
        [hexParam("key", "path", "node public key")],
      ),
      [openapiPath(apiPaths.blob)]: {
        put: {
          summary:
            "Mirror a blob into the coordinator's bounded cache (failover: a provider's reported checkpoint state)",
          parameters: [hexParam("cid", "path", "content id: SHA-256 of the bytes")],
          requestBody: {
            required: true,
            content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
          },
          responses: {
            "204": { description: "Cached (or already held)" },
            "400": error("MALFORMED: the bytes do not hash to the content id"),
            "413": error("TOO_LARGE: over the per-blob limit (16 MiB by default)"),
            "503": common["503"],
          },
        },
      },
      [openapiPath(apiPaths.blobManifest)]: {
        get: {
          summary: "Manifest of a cached blob: size, chunk size and each chunk's SHA-256",
          parameters: [hexParam("cid", "path", "content id")],
          responses: {
            "200": {
              description: "{ cid, size, chunkSize, chunks: hex[] }",
              content: { "application/json": { schema: { type: "object" } } },
            },
            "404": error("NOT_FOUND: not cached (never put, or evicted)"),
            "400": common["400"],
          },
        },
      },
      [openapiPath(apiPaths.blobChunk)]: {
        get: {
          summary: "The raw bytes of one chunk of a cached blob",
          parameters: [
            hexParam("cid", "path", "content id"),
            { name: "index", in: "path", required: true, schema: { type: "integer", minimum: 0 } },
          ],
          responses: {
            "200": { description: "application/octet-stream" },
            "404": error("NOT_FOUND"),
            "400": common["400"],
          },
        },
      },
      [apiPaths.events]: get("Durable log events with their hashes", "EventList", [
        { name: "from", in: "query", schema: { type: "integer", minimum: 0, default: 0 } },
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
      ]),
      [apiPaths.stream]: {
        get: {
          summary:
            "WebSocket upgrade. Server frames: StreamFrame; client frames: ClientFrame. ?provider=<key> pushes that provider's assignments; ?job=<id> that job's stage changes and events; no filter: every event.",
          parameters: [hexParam("provider", "query", "provider key"), hexParam("job", "query", "job id")],
          responses: {
            "101": { description: "Switching protocols" },
            "400": common["400"],
            "503": common["503"],
          },
        },
      },
      [apiPaths.metrics]: {
        get: {
          summary: "Prometheus metrics",
          responses: { "200": { description: "text/plain exposition format" } },
        },
      },
      [apiPaths.health]: {
        get: {
          summary: "Liveness",
          responses: { "200": { description: "sequencing" }, "503": common["503"] },
        },
      },
    },
    components: { schemas: schemas() },
  };
}
