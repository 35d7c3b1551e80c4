/**
 * Every signed message body, defined once as a zod schema. Validation, TypeScript types, wire
 * encoding (z.encode) and decoding (z.decode) all derive from these. Objects are strict: unknown
 * fields are rejected, because a field the signer thought mattered but the coordinator ignored is
 * a silent disagreement about what was signed.
 */
import { z } from "zod";
import type { Json } from "./canonical.ts";
import { cidSchema, hex32Schema, jobIdSchema, offerIdSchema, publicKeySchema } from "./ids.ts";
import { microSchema, positiveMicroSchema } from "./money.ts";
import { reportCoordinateSchema } from "./network-coordinate.ts";

const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, . _ - only");
const count = (max: number) => z.number().int().min(1).max(max);

/**
 * Largest blob size a message may name, 2^40 bytes (1 TiB). It keeps `bytes × 1000` (ms at a
 * bandwidth, routing/effective-cost.ts) and `bytes × price` far inside the safe-integer range.
 */
export const maxBlobBytes = 2 ** 40;

/** `gpu:<model>`, `cpu`, `qpu` or `relay`. */
export const resourceClassSchema = z
  .string()
  .regex(
    /^(cpu|qpu|relay|gpu(:[a-z0-9._-]{1,32})?)$/,
    "resource class is cpu, qpu, relay, gpu or gpu:<model>",
  );

/** ISO-3166 alpha-2 country, or a bloc such as EU. Upper case. */
export const jurisdictionSchema = z.string().regex(/^[A-Z]{2}$/, "jurisdiction is two upper-case letters");

/** Coordinates in integer micro-degrees: no floating point reaches the core. */
const microDegrees = (limit: number) =>
  z
    .number()
    .int()
    .min(-limit * 1e6)
    .max(limit * 1e6);

export const faucetSchema = z.strictObject({ amount: positiveMicroSchema });
export const transferSchema = z.strictObject({ to: publicKeySchema, amount: positiveMicroSchema });
export const bondSchema = z.strictObject({ amount: positiveMicroSchema });
export const unbondSchema = z.strictObject({ amount: positiveMicroSchema });
export const withdrawUnbondedSchema = z.strictObject({});

export const registerNodeSchema = z.strictObject({
  name,
  city: z.string().min(1).max(64),
  country: jurisdictionSchema,
  /** Jurisdictions this node is inside: its country and any bloc (e.g. ["DE","EU"]). */
  jurisdictions: z.array(jurisdictionSchema).min(1).max(8),
  latE6: microDegrees(90),
  lonE6: microDegrees(180),
  resourceClass: resourceClassSchema,
  capacity: count(1_000_000),
  /** Result of the standard benchmark at registration, in benchmark units per second. */
  throughput: count(1e12),
  /** Where the node's agent serves its outputs to the next stage (http(s) URL), if it does. */
  endpoint: z
    .url({ protocol: /^https?$/ })
    .max(256)
    .optional(),
  /**
   * The node's measured uplink, bytes per second. The matcher prices moving a stage's inputs over
   * the slower of the producer's and the receiver's uplink (docs/routing.md "In the live matcher").
   */
  bytesPerSecond: count(maxBlobBytes).optional(),
});

export const postOfferSchema = z.strictObject({
  resourceClass: resourceClassSchema,
  capacity: count(1_000_000),
  pricePerUnitSecond: positiveMicroSchema,
  /**
   * Micro-credits per 10^9 bytes (default 0). For a `relay` offer, the price of forwarding; for any
   * other, the provider's egress price for the outputs it serves to the next stage. Paid through
   * `acknowledgeTransfer` (docs/routing.md "Transfer fees in the ledger").
   */
  pricePerGigabyte: microSchema.optional(),
});
export const withdrawOfferSchema = z.strictObject({ offerId: offerIdSchema });

/**
 * JSON inside program parameters: like `z.json()`, except that no object may have a `__proto__`
 * key. Zod skips that key when it decodes a record (assigning it would replace the prototype), so
 * it would silently vanish from what the coordinator validates, signs and hashes while the sender
 * believes it was part of the message. The check runs on the input, before the record drops it.
 */
const paramObject = (value: z.ZodType<Json, Json>) =>
  z
    .custom<Record<string, Json>>(
      (v) => typeof v !== "object" || v === null || !Object.hasOwn(v, "__proto__"),
      'the key "__proto__" is not allowed',
    )
    .pipe(z.record(z.string(), value));

export const paramValueSchema: z.ZodType<Json, Json> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(paramValueSchema),
    paramObject(paramValueSchema),
  ]),
);

/** A point a stage must be near: coordinates (a city in a spec file is resolved to these). */
const pointSchema = z.strictObject({
  latE6: microDegrees(90),
  lonE6: microDegrees(180),
  /** What the point is, for explanations ("Singapore", "our users"). */
  label: z.string().min(1).max(64).optional(),
});

/** A latency bound: the predicted round trip to a point, or to another stage's provider. */
export const latencyBoundSchema = z.strictObject({
  to: z.union([pointSchema, z.strictObject({ stage: name })]),
  maxRttMs: z.number().int().min(1).max(10_000),
});

/** Two stages that exchange messages `iterations` times (an optimizer and a qpu, say). */
export const loopSchema = z.strictObject({
  with: name,
  iterations: z.number().int().min(1).max(100_000),
  /** Bound on the predicted round trip between the two providers. */
  maxRttMs: z.number().int().min(1).max(10_000),
});

/** How a stage's result is checked: not at all, by beacon-chosen spot checks, or by k replicas. */
export const verificationPolicySchema = z.union([
  z.literal("none"),
  z.literal("spot"),
  z.string().regex(/^replicate:[2-9]$/, 'replication is "replicate:k" with k from 2 to 9'),
]);

export const stageSpecSchema = z.strictObject({
  name,
  /** A built-in step program id, e.g. "mlp-train". */
  program: z.string().min(1).max(64),
  /** Program parameters: opaque to the core, hashed into the job id. */
  params: paramObject(paramValueSchema).default({}),
  resourceClass: resourceClassSchema,
  units: count(1_000_000),
  /** Expected run time at the stated throughput; deadlines and prices scale with it. */
  seconds: count(7 * 24 * 3600),
  maxPricePerUnitSecond: positiveMicroSchema,
  after: z.array(name).max(64).default([]),
  jurisdictions: z.array(jurisdictionSchema).max(32).optional(),
  cities: z.array(z.string().min(1).max(64)).max(64).optional(),
  minThroughput: count(1e12).optional(),
  inputs: z.array(cidSchema).max(64).default([]),
  latency: latencyBoundSchema.optional(),
  loop: loopSchema.optional(),
  verification: verificationPolicySchema.default("none"),
});

export const submitJobSchema = z.strictObject({
  stages: z.array(stageSpecSchema).min(1).max(64),
  /** Locked in escrow in full when the job is accepted; the unused part is refunded. */
  budget: positiveMicroSchema,
  /**
   * What a second of waiting is worth to the requester, in micro-credits: the matcher adds it for
   * the run time and for every millisecond of delay (data transfer, loop round trips) a provider
   * implies, so a nearer provider can win at a higher price (docs/routing.md). Default 0: price,
   * risk and verification only.
   */
  valueOfTimePerSecond: z.number().int().min(0).max(1_000_000_000).optional(),
  /**
   * The requester holds a job key and releases each restricted stage's key through the log
   * (`releaseKey`, sdk/release-stage-keys.ts): the checkpoint states of every stage with
   * `jurisdictions` are then sealed, and its provider waits for its key before it runs.
   */
  sealed: z.literal(true).optional(),
  /**
   * Micro-credits set aside, inside `budget`, for bandwidth and relay fees of moving data between
   * stages (`acknowledgeTransfer`); whatever is not spent is refunded with the rest of the escrow.
   */
  transferBudget: positiveMicroSchema.optional(),
});

/**
 * A stage as messages refer to it: a spec name, or a replica of one (`train~2`: replicate:k adds
 * `<name>~2` … `<name>~k`; spec names cannot contain `~`, so they never collide).
 */
const stageName = z
  .string()
  .min(1)
  .max(66)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(~[2-9])?$/, "letters, digits, . _ - only (replicas end in ~k)");
const stageRef = { jobId: jobIdSchema, stage: stageName };
export const cancelJobSchema = z.strictObject({ jobId: jobIdSchema });
export const startStageSchema = z.strictObject(stageRef);
export const commitResultSchema = z.strictObject({
  ...stageRef,
  /** Merkle root over the checkpoint hashes and the output hash. */
  root: hex32Schema,
  output: cidSchema,
  steps: z.number().int().min(0).max(1e9),
  /** Checkpoints every k steps (runtime's checkpointSteps); required for spot-checked stages. */
  checkpointEvery: z.number().int().min(1).max(1e9).optional(),
  /**
   * Blob on the provider's endpoint listing the checkpoint hashes and the content ids of the
   * checkpoint states, so a verifier can start from the one it is asked to check.
   */
  manifest: cidSchema.optional(),
  /** Size of the blob named by `output`, bytes: the matcher and the transfer fees read it. */
  outputBytes: z.number().int().min(0).max(maxBlobBytes).optional(),
});
export const acceptStageSchema = z.strictObject(stageRef);

/**
 * The provider of `stage` acknowledges that it received `bytes` of `input`, the output of a stage it
 * runs after, directly from that stage's provider or through the relay `via`. The acknowledgement is
 * what pays the producer's egress fee and the relay's forwarding fee from the job's transfer budget
 * (core/routing/transfer-fees.ts): the receiver, not the sender, says what arrived.
 */
export const acknowledgeTransferSchema = z.strictObject({
  ...stageRef,
  input: cidSchema,
  bytes: count(maxBlobBytes),
  via: publicKeySchema.optional(),
});

/** A leaf of a committed root with its Merkle proof (protocol/merkle.ts). */
const provenLeafSchema = z.strictObject({
  hash: hex32Schema,
  proof: z.array(hex32Schema).max(64),
});

/** A verifier's verdict, hidden: H(verdict ‖ salt ‖ verifier ‖ stage ‖ computed). */
export const commitVerdictSchema = z.strictObject({ ...stageRef, commitment: hex32Schema });

/** Opens the verdict commitment. A mismatch must carry the two leaves it disputes, proven. */
export const revealVerdictSchema = z.strictObject({
  ...stageRef,
  /** `withheld`: the provider did not serve the manifest or the segment's start state. */
  verdict: z.enum(["match", "mismatch", "withheld"]),
  salt: hex32Schema,
  /** The verifier's own hash of the checkpoint at the end of the checked segment. */
  computed: hex32Schema,
  /** The provider's checkpoint at the segment's start, which the verifier started from. */
  agreed: provenLeafSchema.optional(),
  /** The provider's checkpoint at the segment's end, which the verifier disputes. */
  claimed: provenLeafSchema.optional(),
  /** Content id of the segment's start state, served by the verifier (for the referee). */
  state: cidSchema.optional(),
});

/**
 * The provider answers a `withheld` verdict: the start state of the checked segment (uploaded to the
 * coordinator's blob cache, which checks it before sequencing) and its two checkpoints, proven.
 */
export const revealStateSchema = z.strictObject({
  ...stageRef,
  state: cidSchema,
  agreed: provenLeafSchema,
  claimed: provenLeafSchema,
});

/** A party's hash at the step a dispute round asks for, and where its state can be fetched. */
export const disputeAnswerSchema = z.strictObject({
  ...stageRef,
  step: z.number().int().min(0).max(1e9),
  hash: hex32Schema,
  state: cidSchema.optional(),
});

/** The canary authority commits to a canary stage: H(jobId ‖ stage ‖ salt), unlinkable until revealed. */
export const canaryCommitSchema = z.strictObject({ commitment: hex32Schema });

/**
 * The provider of a canary stage opens its commitment. After a mismatch verdict the canary ends
 * (the verifier did its work); after an approval it must prove the approved claim wrong with the
 * true hash at the segment's end and Merkle proofs of the committed checkpoints around it.
 */
export const revealCanarySchema = z.strictObject({
  ...stageRef,
  salt: hex32Schema,
  trueHash: hex32Schema.optional(),
  agreed: provenLeafSchema.optional(),
  claimed: provenLeafSchema.optional(),
});

/** The referee's hash of the state after the one disputed step. */
export const refereeVerdictSchema = z.strictObject({ ...stageRef, hash: hex32Schema });

/** Most checkpoint hashes one progress report carries (about 270 KiB on the wire). */
export const maxProgressCheckpoints = 4096;

/**
 * A running stage's provider reports how far it got (docs/routing.md, "Failover"): the hashes of
 * the checkpoints it took since its last report, up to checkpoint `index` (the state after `step`
 * steps, in the layout `checkpointSteps(steps, checkpointEvery)`), and the content id of that
 * checkpoint's encoded state, which it mirrored to the coordinator's blob cache first. If the
 * provider then vanishes, the stage is placed again and resumes from this checkpoint.
 */
export const reportProgressSchema = z.strictObject({
  ...stageRef,
  index: z.number().int().min(1).max(1e9),
  step: z.number().int().min(1).max(1e9),
  /** The run's declared step count and checkpoint spacing: together they fix the layout. */
  steps: z.number().int().min(1).max(1e9),
  checkpointEvery: z.number().int().min(1).max(1e9),
  /** Hashes of the checkpoints after the last reported one (from checkpoint 0 in a first report) up to `index`. */
  checkpoints: z.array(hex32Schema).min(1).max(maxProgressCheckpoints),
  /** Content id of checkpoint `index`'s encoded state. */
  state: cidSchema,
});

/** Bytes of a stage key sealed to one node: ephemeral X25519 key (32), key (32), tag (16). */
export const sealedStageKeyBytes = 80;

/**
 * The requester hands the key of a restricted stage (one with `jurisdictions`), or the output key of
 * any stage of a sealed job, to one node: the key sealed to the node's identity (protocol/key-wrap.node.ts), so the log, the coordinator
 * and everyone reading them see only ciphertext. The core accepts it only from the job's requester
 * and only for a node the key-release rule allows (core/routing/keys.ts).
 */
export const releaseKeySchema = z.strictObject({
  ...stageRef,
  to: publicKeySchema,
  /**
   * Absent: the stage key, which opens the stage's sealed checkpoint states (restricted stages only,
   * recipients inside its jurisdictions). `output`: the stage's output key, which opens the sealed
   * output it hands to the stages that read it (any stage of a sealed job; any recipient but a relay).
   */
  purpose: z.literal("output").optional(),
  sealed: z
    .string()
    .regex(
      new RegExp(`^[0-9a-f]{${sealedStageKeyBytes * 2}}$`),
      `a sealed stage key is ${sealedStageKeyBytes} bytes of lower-case hex`,
    ),
});

/** Message type → body schema. The type string is part of the signed domain. */
export const messageSchemas = {
  faucet: faucetSchema,
  transfer: transferSchema,
  bond: bondSchema,
  unbond: unbondSchema,
  withdrawUnbonded: withdrawUnbondedSchema,
  registerNode: registerNodeSchema,
  reportCoordinate: reportCoordinateSchema,
  postOffer: postOfferSchema,
  withdrawOffer: withdrawOfferSchema,
  submitJob: submitJobSchema,
  cancelJob: cancelJobSchema,
  startStage: startStageSchema,
  commitResult: commitResultSchema,
  acceptStage: acceptStageSchema,
  acknowledgeTransfer: acknowledgeTransferSchema,
  commitVerdict: commitVerdictSchema,
  revealVerdict: revealVerdictSchema,
  revealState: revealStateSchema,
  disputeAnswer: disputeAnswerSchema,
  refereeVerdict: refereeVerdictSchema,
  canaryCommit: canaryCommitSchema,
  revealCanary: revealCanarySchema,
  reportProgress: reportProgressSchema,
  releaseKey: releaseKeySchema,
} as const;

export type MessageType = keyof typeof messageSchemas;
export const messageTypes = Object.keys(messageSchemas) as MessageType[];

/** Decoded bodies (bigint amounts). */
export type MessageBody<T extends MessageType> = z.output<(typeof messageSchemas)[T]>;
/** Wire bodies (decimal-string amounts). */
export type WireMessageBody<T extends MessageType> = z.input<(typeof messageSchemas)[T]>;

/** A decoded message: the discriminated union the state machine switches on. */
export type Message = { [T in MessageType]: { type: T; body: MessageBody<T> } }[MessageType];

export type StageSpec = z.output<typeof stageSpecSchema>;
export type SubmitJob = MessageBody<"submitJob">;
