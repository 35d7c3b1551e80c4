/**
 * The optimizer half of the QAOA loop (wire in qaoa-loop.ts): the agent running a `qaoa-optimizer`
 * stage proposes angles, POSTs each round to the qpu agent, replays its transcript when the qpu
 * restarted, says `done`, and computes the root of its own run over the whole transcript.
 */
import type { z } from "zod";
import { toHex } from "../protocol/bytes.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import type { Identity } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { parseJsonLimited } from "../protocol/json.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import { parseProgramInput, runSegment } from "../runtime/program.ts";
import type { QaoaAngles } from "../runtime/programs/qaoa-maxcut.ts";
import {
  proposedAngles,
  type QaoaOptimizerState,
  qaoaOptimizer,
  qaoaOptimizerInputSchema,
} from "../runtime/programs/qaoa-optimizer.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import {
  doneReplySchema,
  type LoopMessage,
  loopBytes,
  loopJsonLimits,
  roundReplySchema,
  sessionInfoSchema,
} from "./qaoa-loop.ts";

/** What the optimizer half commits after the loop, and how the loop went. */
export interface OptimizerLoopOutcome {
  readonly root: Hex32;
  readonly output: { readonly best: QaoaAngles; readonly bestEnergy: number };
  readonly steps: number;
  readonly rounds: number;
  /** HTTP round trips to the qpu agent, including retries and replays. */
  readonly roundTrips: number;
  readonly loopMs: number;
}

export interface OptimizerLoopOptions {
  readonly jobId: string;
  /** The qpu stage's name: the session to drive. */
  readonly qpuStage: string;
  /** The qpu agent's endpoint (asked again after failures: the stage may move to another provider). */
  readonly qpuEndpoint: (refresh: boolean) => Promise<string>;
  /** The optimizer stage's params: `iterations` (default 30), `stepSize`, and optionally `initial`. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Rounds of the loop when the job declares them (`loop.iterations`); else `params.iterations`. */
  readonly iterations?: number;
  readonly identity: Identity;
  readonly ed: Ed25519;
  readonly pool: WorkerPool;
  readonly checkpointEvery: number;
  readonly fetch: FetchLike;
  /** Wall-clock ms by which the loop must be done. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

/** The optimizer program's input apart from the evaluations: what the transcript is replayed against. */
type OptimizerInput = Readonly<Record<string, unknown>>;

/**
 * Drives a loop from the optimizer's side and computes the optimizer's committed run.
 *
 * ```ts
 * const outcome = await runOptimizerLoop({ jobId, qpuStage: "qaoa", qpuEndpoint, params, identity, ed, pool, checkpointEvery: 4, fetch, deadline });
 * ```
 */
export async function runOptimizerLoop(options: OptimizerLoopOptions): Promise<OptimizerLoopOutcome> {
  const t0 = performance.now();
  const qpu = await connectQpu(options);
  const session = await qpu.exchange("", undefined, sessionInfoSchema);
  const iterations = options.iterations ?? Number(options.params["iterations"] ?? 30);
  const raw = {
    initial: options.params["initial"] ?? session.initial,
    ...(options.params["stepSize"] === undefined ? {} : { stepSize: options.params["stepSize"] }),
  };
  const evaluations = await driveRounds(options, qpu, raw, iterations);
  await qpu.exchange(
    "/done",
    {
      rounds: iterations,
      ...signLoop(options, {
        kind: "done",
        jobId: options.jobId,
        stage: options.qpuStage,
        rounds: iterations,
      }),
    },
    doneReplySchema,
  );
  const loopMs = performance.now() - t0;
  const final = await options.pool.run({
    program: "qaoa-optimizer",
    input: { ...raw, evaluations },
    checkpointEvery: options.checkpointEvery,
  });
  const output = final.output as { best: QaoaAngles; bestEnergy: number };
  return {
    root: final.root,
    output: { best: output.best, bestEnergy: output.bestEnergy },
    steps: final.steps,
    rounds: iterations,
    roundTrips: qpu.roundTrips(),
    loopMs,
  };
}

/**
 * The rounds of the loop, in the same sequence as runQaoaLoop: propose, evaluate remotely, resume
 * from the encoded state. Returns the expected cut of each round.
 */
async function driveRounds(
  options: OptimizerLoopOptions,
  qpu: QpuConnection,
  raw: OptimizerInput,
  iterations: number,
): Promise<number[]> {
  const evaluations: number[] = [];
  const inputNow = () => parseProgramInput(qaoaOptimizer, { ...raw, evaluations: [...evaluations] });
  qaoaOptimizerInputSchema.parse({ ...raw, evaluations: [] });
  let state: QaoaOptimizerState = qaoaOptimizer.init(inputNow());
  const sent: QaoaAngles[] = [];
  let round = 0;
  while (round < iterations) {
    const angles = sent[round] ?? proposedAngles(state);
    sent[round] = angles;
    let reply: z.output<typeof roundReplySchema>;
    try {
      reply = await qpu.exchange(
        "/rounds",
        {
          round,
          angles,
          ...signLoop(options, {
            kind: "round",
            jobId: options.jobId,
            stage: options.qpuStage,
            round,
            angles,
          }),
        },
        roundReplySchema,
      );
    } catch (error) {
      // The qpu agent restarted and lost earlier rounds: replay the transcript from where it is.
      const expected = (error as SwitchyardError).details?.["expected"];
      if (
        (error as SwitchyardError).code === "ILLEGAL_TRANSITION" &&
        typeof expected === "number" &&
        expected < round
      ) {
        round = expected;
        continue;
      }
      throw error;
    }
    if (round === evaluations.length) {
      evaluations.push(reply.expectedCut);
      const resumed = qaoaOptimizer.decodeState(qaoaOptimizer.encodeState(state), inputNow());
      state = runSegment(qaoaOptimizer, resumed, round, round + 1);
    }
    round++;
  }
  return evaluations;
}

function signLoop(options: OptimizerLoopOptions, message: LoopMessage): { signer: string; sig: string } {
  return {
    signer: options.identity.publicKey,
    sig: toHex(options.ed.sign(options.identity.secret, loopBytes(message))),
  };
}

interface QpuConnection {
  /** One exchange with retries: network errors, 5xx and 404 (the qpu has not started yet) back off. */
  exchange<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>>;
  /** HTTP round trips so far, including retries. */
  roundTrips(): number;
}

/** The qpu agent's loop session for this stage, reached at its current endpoint. */
async function connectQpu(options: OptimizerLoopOptions): Promise<QpuConnection> {
  let roundTrips = 0;
  let endpoint = await options.qpuEndpoint(false);
  const base = () => `${endpoint}/loop/${options.jobId}/${options.qpuStage}`;

  async function exchange<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > options.deadline) {
        throw new SwitchyardError("PROGRAM_LIMIT", "the loop was not done by the stage's deadline", {
          details: { limit: "time", roundTrips },
        });
      }
      if (attempt > 0) {
        await sleep(Math.min(1_000, 25 * 2 ** Math.min(attempt, 6)), options.signal);
        if (attempt % 4 === 0) endpoint = await options.qpuEndpoint(true);
      }
      roundTrips++;
      let response: Response;
      let text: string;
      try {
        response = await options.fetch(base() + path, {
          method: body === undefined ? "GET" : "POST",
          ...(body === undefined
            ? {}
            : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
          signal: AbortSignal.timeout(30_000),
        });
        text = await response.text();
      } catch (error) {
        if (options.signal?.aborted) throw error;
        continue;
      }
      if (response.status === 404 || response.status >= 500) continue;
      return answerOf(response, text, path, schema);
    }
  }

  return { exchange, roundTrips: () => roundTrips };
}

/** The qpu agent's answer: its refusal as a typed error, or the body checked against `schema`. */
function answerOf<S extends z.ZodType>(
  response: Response,
  text: string,
  path: string,
  schema: S,
): z.output<S> {
  const json = parseJsonLimited(text, loopJsonLimits);
  if (!response.ok) {
    const error = json as { code?: string; message?: string; details?: Record<string, unknown> };
    throw new SwitchyardError(
      error.code === "ILLEGAL_TRANSITION" ? "ILLEGAL_TRANSITION" : "PROGRAM_FAILED",
      `the qpu agent refused the loop message: ${error.message ?? response.status}`,
      { details: { ...(error.details ?? {}), httpStatus: response.status, remoteCode: error.code } },
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new SwitchyardError("MALFORMED", `the qpu agent's answer to ${path || "GET"} is malformed`);
  return parsed.data;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
