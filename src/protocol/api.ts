/**
 * The coordinator's public API: paths, and the zod schemas of every response body and WebSocket
 * frame. The coordinator validates what it sends against these in tests, the SDK decodes with
 * them, and /openapi.json is generated from them (z.toJSONSchema, OpenAPI 3.1 = JSON Schema 2020-12).
 * Requests that change state are signed envelopes (envelope.ts) and nothing else.
 *
 * Wire conventions: amounts are decimal strings of micro-credits; ids and hashes are lowercase hex;
 * times are integer ms since the Unix epoch (sequencer time).
 */
import { z } from "zod";
import { errorCodes } from "./errors.ts";
import { hex32Schema } from "./ids.ts";
import { checkpointPointFields } from "./job-view.ts";
import { amountStringSchema as amount } from "./money.ts";
import { networkCoordinateSchema } from "./network-coordinate.ts";

const hex = hex32Schema;

export const apiPaths = {
  /** POST a signed envelope (wire JSON). 200 → Receipt; 4xx → ApiError. */
  messages: "/v1/messages",
  /** POST { messages: envelope[] } (≤ 256). 200 → { results: (Receipt | ApiError)[] } in order. */
  messageBatch: "/v1/messages/batch",
  /** GET → Status. */
  status: "/v1/status",
  /** GET → { nodes: NodeView[] }. */
  nodes: "/v1/nodes",
  /** GET ?from=<node>&to=<node> → RttPrediction: the predicted round trip between two nodes. */
  rtt: "/v1/rtt",
  /** GET → Market. */
  market: "/v1/market",
  /** GET ?requester=<pk> → { jobs: JobView[] } (newest first, ≤ 100). */
  jobs: "/v1/jobs",
  /** GET /v1/jobs/:id → JobView. */
  job: "/v1/jobs/:id",
  /** GET /v1/accounts/:key → Account. */
  account: "/v1/accounts/:key",
  /** GET /v1/providers/:key/assignments → { assignments: Assignment[] }: open work of a provider (for reconnects). */
  assignments: "/v1/providers/:key/assignments",
  /** GET /v1/providers/:key/tasks → { tasks: Task[] }: verification work the node owes now. */
  tasks: "/v1/providers/:key/tasks",
  /** GET ?from=<seq>&limit=<n ≤ 1000> → { events: wire LogEvent + hash [] } for followers and audits. */
  events: "/v1/events",
  /**
   * PUT the raw bytes of a blob (≤ 16 MiB by default) into the coordinator's bounded cache: 204;
   * 400 MALFORMED if they do not hash to :cid, 413 TOO_LARGE over the limit. Providers mirror the
   * checkpoint states they report here (failover, docs/routing.md).
   */
  blob: "/v1/blobs/:cid",
  /** GET → BlobManifest of a cached blob (the agents' layout, `blobPaths`, under /v1). */
  blobManifest: "/v1/blobs/:cid/manifest",
  /** GET → the raw bytes of chunk :index of a cached blob. */
  blobChunk: "/v1/blobs/:cid/chunks/:index",
  /** WebSocket. Query: ?provider=<pk> to receive that provider's assignments; ?job=<id> for a job's events. */
  stream: "/v1/stream",
  openapi: "/openapi.json",
  metrics: "/metrics",
  health: "/healthz",
} as const;

export const apiErrorSchema = z.strictObject({
  code: z.enum(errorCodes),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
});
export type ApiError = z.infer<typeof apiErrorSchema>;

/**
 * The coordinator's signed acknowledgement that a message is durable at `seq` with event hash
 * `hash`. `sig` is the coordinator's Ed25519 signature over receiptBytes(receipt). A client that
 * holds receipts can prove a dropped or reordered message.
 */
export const receiptSchema = z.strictObject({
  net: z.string(),
  seq: z.number().int().min(0),
  hash: hex,
  time: z.number().int(),
  coordinator: hex,
  sig: z.string().regex(/^[0-9a-f]{128}$/),
});
export type Receipt = z.infer<typeof receiptSchema>;

export const statusSchema = z.strictObject({
  net: z.string(),
  coordinator: hex,
  seq: z.number().int(),
  head: hex,
  time: z.number().int(),
  stateHash: hex,
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  store: z.string(),
  /** True while this coordinator holds the sequencer lead. */
  leader: z.boolean(),
});
export type Status = z.infer<typeof statusSchema>;

export const offerViewSchema = z.strictObject({
  id: hex,
  resourceClass: z.string(),
  capacity: z.number().int(),
  used: z.number().int(),
  pricePerUnitSecond: amount,
  /** Micro-credits per 10^9 bytes: a relay's forwarding price, or the provider's egress price. */
  pricePerGigabyte: amount.optional(),
  active: z.boolean(),
});

export const nodeViewSchema = z.strictObject({
  id: hex,
  name: z.string(),
  city: z.string(),
  country: z.string(),
  jurisdictions: z.array(z.string()),
  latE6: z.number().int(),
  lonE6: z.number().int(),
  resourceClass: z.string(),
  capacity: z.number().int(),
  throughput: z.number().int(),
  endpoint: z.string().optional(),
  /** The uplink the node reported at registration, bytes per second. */
  bytesPerSecond: z.number().int().optional(),
  stake: amount,
  openStages: z.number().int(),
  offers: z.array(offerViewSchema),
  /** Last time the agent was seen on the stream (not part of the replicated state). */
  lastSeen: z.number().int().optional(),
  /** The node's latest reported network coordinate (µs, ppm) and when it was reported. */
  coordinate: networkCoordinateSchema.extend({ reportedAt: z.number().int() }).optional(),
});
export type NodeView = z.infer<typeof nodeViewSchema>;

/**
 * GET /v1/rtt: the round trip between two registered nodes, predicted from their reported network
 * coordinates (`source: "coordinates"`, with the worse of their error estimates) or, while either
 * has not reported one, from the built-in geographic model (`source: "geo"`). Whole ms.
 */
export const rttPredictionSchema = z.strictObject({
  from: hex,
  to: hex,
  rttMs: z.number().int().min(0),
  source: z.enum(["coordinates", "geo"]),
  errorPpm: z.number().int().min(0).optional(),
});
export type RttPredictionView = z.infer<typeof rttPredictionSchema>;

export const marketSchema = z.strictObject({
  classes: z.array(
    z.strictObject({
      resourceClass: z.string(),
      region: z.string(),
      offers: z.number().int(),
      capacity: z.number().int(),
      used: z.number().int(),
      minPrice: amount,
      medianPrice: amount,
      /**
       * Lowest price per 10^9 bytes among the group's offers (an offer without one asks 0): what a
       * relay charges for forwarding, or a provider for its egress. Absent when no offer set one.
       */
      minPricePerGigabyte: amount.optional(),
    }),
  ),
  /**
   * The published price index per (class, region), sorted like `classes`: micro-credits per
   * unit-second, moved once per `priceEpochMs` by utilization (docs/routing.md). A region without
   * active offers keeps its last index; `updatedAt` says when it was last measured.
   */
  priceIndex: z.array(
    z.strictObject({
      resourceClass: z.string(),
      region: z.string(),
      index: amount,
      utilizationBps: z.number().int().min(0).max(10_000),
      updatedAt: z.number().int(),
    }),
  ),
});
export type Market = z.infer<typeof marketSchema>;

// The job view (GET /v1/jobs/:id, stream frames) is its own file: it is most of the contract.
export { costBreakdownSchema, type JobView, jobViewSchema, stageViewSchema } from "./job-view.ts";

export const accountSchema = z.strictObject({
  key: hex,
  available: amount,
  staked: amount,
  unbonding: amount,
  /** Last accepted nonce: sign the next message with nonce + 1. "0" for a new identity. */
  nonce: amount,
});
export type Account = z.infer<typeof accountSchema>;

/**
 * One input of a stage and where to fetch it. An output of a stage it runs after names that stage
 * (`stage`, its spec name) and the node that produced it (`producer`, for the path's RTT), and,
 * when the commitment said, its size (`bytes`); in a sealed job it is sealed under that stage's
 * output key. A declared input has only its cid.
 */
export const inputSourceSchema = z.strictObject({
  cid: hex,
  from: z.string().optional(),
  stage: z.string().optional(),
  producer: hex.optional(),
  bytes: z.number().int().min(0).optional(),
});
export type InputSource = z.infer<typeof inputSourceSchema>;

export const assignmentSchema = z.strictObject({
  jobId: hex,
  stage: z.string(),
  provider: hex,
  offerId: hex,
  program: z.string(),
  params: z.record(z.string(), z.unknown()),
  /** Inputs with where to fetch them: the producing provider's endpoint, if known. */
  inputs: z.array(inputSourceSchema),
  pricePerUnitSecond: amount,
  status: z.enum(["matched", "running"]),
  deadline: z.number().int(),
  /**
   * Resume from a vanished provider's checkpoint (docs/routing.md, "Failover"): the layout, the
   * hashes of checkpoints 0…index, and the state's content id with where it may be fetched (the
   * vanished provider's endpoint; the coordinator's blob cache is always worth asking too).
   */
  resume: z
    .strictObject({ ...checkpointPointFields, checkpoints: z.array(hex), from: z.array(z.string()) })
    .optional(),
});
export type Assignment = z.infer<typeof assignmentSchema>;

const taskBase = {
  jobId: hex,
  stage: z.string(),
  program: z.string(),
  params: z.record(z.string(), z.unknown()),
  inputs: z.array(inputSourceSchema),
  provider: hex,
  /** Where the provider serves its manifest and checkpoint states. */
  providerEndpoint: z.string().optional(),
  root: hex,
  manifest: hex,
  steps: z.number().int(),
  checkpointEvery: z.number().int(),
  segment: z.number().int(),
  fromStep: z.number().int(),
  toStep: z.number().int(),
  deadline: z.number().int(),
};

/**
 * Verification work a node owes (docs/verification.md): check a segment and commit then reveal a
 * verdict; answer a dispute round with its hash at `step`; or referee the one step from `step`.
 */
export const taskSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("verify"),
    ...taskBase,
    committed: z.boolean(),
    /** After a `withheld` verdict: the start state (in the coordinator's blob cache) and the two checkpoints. */
    revealed: z
      .strictObject({
        state: hex,
        agreed: z.strictObject({ hash: hex, proof: z.array(hex) }),
        claimed: z.strictObject({ hash: hex, proof: z.array(hex) }),
      })
      .optional(),
  }),
  /** The provider must reveal the checked segment's start state: its verifier said it was withheld. */
  z.strictObject({ kind: z.literal("reveal"), ...taskBase }),
  z.strictObject({
    kind: z.literal("dispute"),
    ...taskBase,
    role: z.enum(["provider", "challenger"]),
    step: z.number().int(),
    round: z.number().int(),
  }),
  z.strictObject({
    kind: z.literal("referee"),
    ...taskBase,
    /** The agreed step: execute step → step + 1 from the state that hashes to `agreed`. */
    step: z.number().int(),
    agreed: hex,
    sources: z.array(z.strictObject({ cid: hex, from: z.string().optional() })),
  }),
]);
export type Task = z.infer<typeof taskSchema>;

/** Frames the coordinator sends on /v1/stream. */
export const streamFrameSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("hello"), net: z.string(), seq: z.number().int(), coordinator: hex }),
  /** A log event was sequenced (subscribers of ?job= receive those that touch the job). */
  z.strictObject({
    type: z.literal("event"),
    seq: z.number().int(),
    hash: hex,
    time: z.number().int(),
    kind: z.string(),
  }),
  z.strictObject({ type: z.literal("assignment"), assignment: assignmentSchema }),
  /** A job's stage changed status. */
  z.strictObject({
    type: z.literal("stage"),
    jobId: hex,
    stage: z.string(),
    status: z.string(),
    seq: z.number().int(),
  }),
  z.strictObject({ type: z.literal("receipt"), id: z.string(), receipt: receiptSchema }),
  z.strictObject({ type: z.literal("error"), id: z.string().optional(), error: apiErrorSchema }),
]);
export type StreamFrame = z.infer<typeof streamFrameSchema>;

/** Frames a client may send on /v1/stream: a signed envelope to sequence, tagged with a client id. */
export const clientFrameSchema = z.strictObject({
  type: z.literal("submit"),
  id: z.string().min(1).max(64),
  envelope: z.unknown(),
});

/**
 * An agent's ping, on its own HTTP server beside the blobs: `GET` → PingReply. Other agents time it
 * to measure their round trip to this one (src/agent/rtt-probe.ts); the reply carries the node id,
 * so a prober knows whom it reached, and the agent's current coordinate, which the prober's update
 * needs.
 */
export const pingPath = "/v1/ping";

export const pingReplySchema = z.strictObject({
  node: hex,
  coordinate: networkCoordinateSchema.optional(),
});
export type PingReply = z.infer<typeof pingReplySchema>;

/** Blob transfer between providers (each agent serves its outputs). */
export const blobPaths = {
  /** GET → BlobManifest. */
  manifest: "/blobs/:cid/manifest",
  /** GET → the raw bytes of chunk :index (application/octet-stream). */
  chunk: "/blobs/:cid/chunks/:index",
} as const;

export const blobManifestSchema = z.strictObject({
  cid: hex,
  size: z.number().int().min(0),
  chunkSize: z.number().int().min(1),
  /** SHA-256 (contentId) of each chunk, in order; every chunk is checked on arrival. */
  chunks: z.array(hex),
});
export type BlobManifest = z.infer<typeof blobManifestSchema>;
