/**
 * The QAOA loop between two agents (DESIGN.md §4, loops): the optimizer half (a `qaoa-optimizer`
 * stage, on a cpu) proposes angles and POSTs them to the agent running the `qaoa-maxcut` stage of
 * the same job (the qpu half), which evaluates them in its worker pool and answers the expected cut
 * and the root of that run. K rounds, then the optimizer says `done`. Each side commits its own
 * root, exactly as the in-process loop of src/runtime/programs/qaoa-loop.ts computes them: the qpu
 * a Merkle root over its per-round roots, the optimizer the root of its run over the transcript.
 *
 * Wire (on the qpu agent's HTTP server, `/loop/:jobId/:stage`, where :stage is the qpu stage):
 * - `GET` → `{ initial, next }`: the qpu stage's starting angles (the optimizer's proposal 0 unless
 *   its own params say otherwise) and the next round it expects; 404 until the qpu agent has
 *   started the stage.
 * - `POST /rounds` `{ round, angles, signer, sig }` → `{ round, expectedCut, root }`. Rounds are
 *   idempotent (a repeated round with the same angles gets the same answer) and in order: a round
 *   ahead of the qpu (it restarted and lost the session) is 409 with `details.expected`, and the
 *   optimizer replays its transcript from there — the answers are deterministic.
 * - `POST /done` `{ rounds, signer, sig }` → `{ rounds, root }`; the qpu then commits.
 *
 * Requests are signed by the optimizer stage's provider (domain "switchyard:loop"); the qpu refuses
 * anyone else, who could otherwise steer what it commits to.
 *
 * This file is the protocol both halves share: which stages pair (`loopOf`), the signed bytes and
 * the message schemas. The qpu half is qaoa-loop-qpu.ts, the optimizer half qaoa-loop-optimizer.ts.
 */
import { z } from "zod";
import type { JobView } from "../protocol/api.ts";
import { concatBytes, utf8 } from "../protocol/bytes.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import { hex32Schema } from "../protocol/ids.ts";
import type { JsonLimits } from "../protocol/json.ts";
import { loopSchema } from "../protocol/messages.ts";
import { type QaoaAngles, qaoaAnglesSchema } from "../runtime/programs/qaoa-maxcut.ts";

const loopDomain = utf8("switchyard:loop\u0000");

/** The programs of the two halves. */
export const loopPrograms = { qpu: "qaoa-maxcut", optimizer: "qaoa-optimizer" } as const;

type StageView = JobView["stages"][number];

export interface LoopPairing {
  /** This stage's half of the loop. */
  readonly role: "qpu" | "optimizer";
  readonly partner: StageView;
  /** Rounds, when the job declares the loop (`loop.iterations` on either stage). */
  readonly iterations: number | undefined;
}

/**
 * Whether `stage` of `job` is half of a QAOA loop, and with which stage. The job's declared loop
 * (`loop: { with }` on either of the two stages) decides; a job without one pairs its qaoa-maxcut
 * stage with its qaoa-optimizer stage when it has exactly one of each, as the in-process pipeline
 * does. A stage that is not half of a loop runs as an ordinary stage.
 *
 * ```ts
 * const pairing = loopOf(await getJob(client, { id: jobId }), "optimizer"); // { role: "optimizer", partner: qaoa stage, iterations: 30 }
 * ```
 */
export function loopOf(job: JobView, stage: string): LoopPairing | undefined {
  const self = job.stages.find((s) => s.name === stage);
  if (self === undefined) return undefined;
  const role =
    self.program === loopPrograms.qpu
      ? "qpu"
      : self.program === loopPrograms.optimizer
        ? "optimizer"
        : undefined;
  if (role === undefined) return undefined;
  const other = role === "qpu" ? loopPrograms.optimizer : loopPrograms.qpu;
  const declared = (s: StageView) => {
    const loop = loopSchema.safeParse(s.loop);
    return loop.success ? loop.data : undefined;
  };
  const own = declared(self);
  const partner =
    (own === undefined ? undefined : job.stages.find((s) => s.name === own.with)) ??
    job.stages.find((s) => declared(s)?.with === stage);
  if (partner !== undefined) {
    return partner.program === other
      ? { role, partner, iterations: (own ?? declared(partner))?.iterations }
      : undefined;
  }
  const candidates = job.stages.filter((s) => s.program === other && declared(s) === undefined);
  const mine = job.stages.filter((s) => s.program === self.program && declared(s) === undefined);
  return candidates.length === 1 && mine.length === 1
    ? { role, partner: candidates[0]!, iterations: undefined }
    : undefined;
}

/** What a loop signature covers: the message, never the HTTP request around it. */
export type LoopMessage =
  | {
      readonly kind: "round";
      readonly jobId: string;
      readonly stage: string;
      readonly round: number;
      readonly angles: QaoaAngles;
    }
  | { readonly kind: "done"; readonly jobId: string; readonly stage: string; readonly rounds: number };

/** The signed bytes of a loop message: its own domain, so it is never valid as an envelope or a receipt. */
export function loopBytes(message: LoopMessage): Uint8Array {
  return concatBytes(loopDomain, canonicalBytes(message));
}

/** Size and nesting bounds of a loop request or answer body. */
export const loopJsonLimits: JsonLimits = { maxBytes: 64 * 1024, maxDepth: 8 };

const signed = { signer: hex32Schema, sig: z.string().regex(/^[0-9a-f]{128}$/) };
export const roundRequestSchema = z.strictObject({
  round: z.number().int().min(0).max(100_000),
  angles: qaoaAnglesSchema,
  ...signed,
});
export const doneRequestSchema = z.strictObject({ rounds: z.number().int().min(0).max(100_000), ...signed });
export const roundReplySchema = z.strictObject({
  round: z.number().int(),
  expectedCut: z.number(),
  root: hex32Schema,
});
export const doneReplySchema = z.strictObject({ rounds: z.number().int(), root: hex32Schema });
export const sessionInfoSchema = z.strictObject({ initial: qaoaAnglesSchema, next: z.number().int() });
