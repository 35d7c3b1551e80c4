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
 */
import { Hono } from "hono";
import { z } from "zod";
import type { JobView } from "../protocol/api.ts";
import { concatBytes, fromHex, toHex, utf8 } from "../protocol/bytes.ts";
import { canonicalBytes, canonicalize } from "../protocol/canonical.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import type { Identity } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { type Hex32, hex32Schema, type PublicKeyHex } from "../protocol/ids.ts";
import { parseJsonLimited } from "../protocol/json.ts";
import { merkleRoot } from "../protocol/merkle.ts";
import { loopSchema } from "../protocol/messages.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import { parseProgramInput, runSegment } from "../runtime/program.ts";
import { type MaxCutGraph, type QaoaAngles, qaoaAnglesSchema } from "../runtime/programs/qaoa-maxcut.ts";
import {
  proposedAngles,
  type QaoaOptimizerState,
  qaoaOptimizer,
  qaoaOptimizerInputSchema,
} from "../runtime/programs/qaoa-optimizer.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import { errorResponse } from "./http.ts";

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

type LoopMessage =
  | {
      readonly kind: "round";
      readonly jobId: string;
      readonly stage: string;
      readonly round: number;
      readonly angles: QaoaAngles;
    }
  | { readonly kind: "done"; readonly jobId: string; readonly stage: string; readonly rounds: number };

function loopBytes(message: LoopMessage): Uint8Array {
  return concatBytes(loopDomain, canonicalBytes(message));
}

const signed = { signer: hex32Schema, sig: z.string().regex(/^[0-9a-f]{128}$/) };
const roundRequestSchema = z.strictObject({
  round: z.number().int().min(0).max(100_000),
  angles: qaoaAnglesSchema,
  ...signed,
});
const doneRequestSchema = z.strictObject({ rounds: z.number().int().min(0).max(100_000), ...signed });
const roundReplySchema = z.strictObject({
  round: z.number().int(),
  expectedCut: z.number(),
  root: hex32Schema,
});
const sessionInfoSchema = z.strictObject({ initial: qaoaAnglesSchema, next: z.number().int() });

interface Round {
  readonly angles: QaoaAngles;
  readonly expectedCut: number;
  readonly root: Hex32;
}

/** What the qpu half commits after the loop. */
export interface QpuLoopOutcome {
  readonly rounds: number;
  /** Merkle root over the per-round roots (as src/sim/seed-pipeline.ts commits). */
  readonly root: Hex32;
  readonly expectedCuts: readonly number[];
}

export interface QpuSessionOptions {
  readonly jobId: string;
  readonly stage: string;
  readonly graph: MaxCutGraph;
  /** The stage's starting angles (its `angles` parameter). */
  readonly angles: QaoaAngles;
  /** The provider allowed to drive the loop; asked again once when an unknown signer appears. */
  readonly partner: (refresh: boolean) => Promise<PublicKeyHex | undefined>;
  /** Wall-clock ms by which the loop must be done (the stage's run deadline). */
  readonly deadline: number;
}

interface Session {
  readonly options: QpuSessionOptions;
  readonly rounds: Round[];
  tail: Promise<unknown>;
  outcome: QpuLoopOutcome | undefined;
  finish: (outcome: QpuLoopOutcome) => void;
}

export interface QpuLoopHost {
  /** Routes under `/loop/`; mount on the agent's app. */
  readonly app: Hono;
  /** Serves a loop for a started qaoa-maxcut stage until its optimizer says done (or the deadline passes). */
  serve(options: QpuSessionOptions): Promise<QpuLoopOutcome>;
  /** Rounds evaluated by this host since it started. */
  roundsServed(): number;
}

export interface QpuLoopHostOptions {
  readonly pool: WorkerPool;
  readonly ed: Ed25519;
  readonly checkpointEvery: number;
}

const sessionKey = (jobId: string, stage: string) => `${jobId}/${stage}`;

/**
 * The qpu half of every loop this agent takes part in.
 *
 * ```ts
 * const loops = qpuLoopHost({ pool, ed: nodeEd25519, checkpointEvery: 4 });
 * app.route("/", loops.app);
 * const outcome = await loops.serve({ jobId, stage, graph, angles, partner, deadline });
 * ```
 */
export function qpuLoopHost(options: QpuLoopHostOptions): QpuLoopHost {
  const sessions = new Map<string, Session>();
  let served = 0;

  async function authorize(session: Session, body: { signer: string; sig: string }, message: LoopMessage) {
    if (!options.ed.verify(fromHex(body.signer), loopBytes(message), fromHex(body.sig))) {
      throw new SwitchyardError("BAD_SIGNATURE", "the loop message's signature does not verify");
    }
    let partner = await session.options.partner(false);
    if (partner !== body.signer) partner = await session.options.partner(true);
    if (partner !== body.signer) {
      throw new SwitchyardError(
        "NOT_AUTHORIZED",
        "only the provider of the loop's optimizer stage may drive it",
        {
          details: { signer: body.signer },
        },
      );
    }
  }

  async function evaluate(session: Session, round: number, angles: QaoaAngles): Promise<Round> {
    const have = session.rounds[round];
    if (have !== undefined) {
      if (canonicalize(have.angles) !== canonicalize(angles)) {
        throw new SwitchyardError(
          "ILLEGAL_TRANSITION",
          `round ${round} was already evaluated with other angles`,
          {
            details: { round, expected: session.rounds.length },
          },
        );
      }
      return have;
    }
    if (round !== session.rounds.length) {
      throw new SwitchyardError(
        "ILLEGAL_TRANSITION",
        `round ${round} is ahead: the next round is ${session.rounds.length}`,
        {
          details: { round, expected: session.rounds.length },
        },
      );
    }
    const run = await options.pool.run({
      program: "qaoa-maxcut",
      input: { graph: session.options.graph, angles },
      checkpointEvery: options.checkpointEvery,
    });
    const result: Round = {
      angles,
      expectedCut: (run.output as { expectedCut: number }).expectedCut,
      root: run.root,
    };
    session.rounds.push(result);
    served++;
    return result;
  }

  /** Runs `fn` after the session's earlier requests: rounds are evaluated one at a time, in order. */
  function inOrder<T>(session: Session, fn: () => Promise<T>): Promise<T> {
    const run = session.tail.then(fn);
    session.tail = run.catch(() => {});
    return run;
  }

  const app = new Hono();
  const find = (jobId: string, stage: string) => {
    const session = sessions.get(sessionKey(jobId, stage));
    if (session === undefined) {
      throw new SwitchyardError(
        "NOT_FOUND",
        `no loop for stage ${stage} of job ${jobId.slice(0, 12)}… here (yet)`,
        {
          details: { jobId, stage },
        },
      );
    }
    return session;
  };
  const bodyOf = async (req: Request) =>
    parseJsonLimited(await req.text(), { maxBytes: 64 * 1024, maxDepth: 8 });
  const parse = <S extends z.ZodType>(schema: S, value: unknown): z.output<S> => {
    const r = schema.safeParse(value);
    if (!r.success)
      throw new SwitchyardError("MALFORMED", `loop message: ${r.error.issues[0]?.message ?? "invalid"}`);
    return r.data;
  };

  app.get("/loop/:jobId/:stage", (c) => {
    try {
      const session = find(c.req.param("jobId"), c.req.param("stage"));
      return c.json({ initial: session.options.angles, next: session.rounds.length });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.post("/loop/:jobId/:stage/rounds", async (c) => {
    try {
      const { jobId, stage } = c.req.param();
      const session = find(jobId, stage);
      const body = parse(roundRequestSchema, await bodyOf(c.req.raw));
      await authorize(session, body, { kind: "round", jobId, stage, round: body.round, angles: body.angles });
      const r = await inOrder(session, () => evaluate(session, body.round, body.angles));
      return c.json({ round: body.round, expectedCut: r.expectedCut, root: r.root });
    } catch (error) {
      return errorResponse(c, error);
    }
  });
  app.post("/loop/:jobId/:stage/done", async (c) => {
    try {
      const { jobId, stage } = c.req.param();
      const session = find(jobId, stage);
      const body = parse(doneRequestSchema, await bodyOf(c.req.raw));
      await authorize(session, body, { kind: "done", jobId, stage, rounds: body.rounds });
      const outcome = await inOrder(session, async () => {
        if (body.rounds !== session.rounds.length) {
          throw new SwitchyardError(
            "ILLEGAL_TRANSITION",
            `done after ${body.rounds} rounds, but ${session.rounds.length} were evaluated here`,
            { details: { expected: session.rounds.length } },
          );
        }
        session.outcome ??= {
          rounds: session.rounds.length,
          root: merkleRoot(session.rounds.map((r) => r.root)),
          expectedCuts: session.rounds.map((r) => r.expectedCut),
        };
        session.finish(session.outcome);
        return session.outcome;
      });
      return c.json({ rounds: outcome.rounds, root: outcome.root });
    } catch (error) {
      return errorResponse(c, error);
    }
  });

  return {
    app,
    roundsServed: () => served,
    serve(sessionOptions) {
      const key = sessionKey(sessionOptions.jobId, sessionOptions.stage);
      return new Promise<QpuLoopOutcome>((resolve, reject) => {
        const timer = setTimeout(
          () => {
            if (sessions.get(key) === session) sessions.delete(key);
            reject(
              new SwitchyardError(
                "PROGRAM_LIMIT",
                `the loop of stage ${sessionOptions.stage} was not done by its deadline`,
                {
                  details: { limit: "time", rounds: session.rounds.length },
                },
              ),
            );
          },
          Math.max(0, sessionOptions.deadline - Date.now()),
        );
        // The agent's server keeps the process alive while it serves; a pending deadline need not.
        timer.unref();
        const session: Session = {
          options: sessionOptions,
          rounds: [],
          tail: Promise.resolve(),
          outcome: undefined,
          finish: (outcome) => {
            clearTimeout(timer);
            resolve(outcome);
          },
        };
        // A session that is already done stays, so a repeated `done` (its answer lost) still gets one.
        sessions.set(key, session);
      });
    },
  };
}

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

/**
 * Drives a loop from the optimizer's side and computes the optimizer's committed run.
 *
 * ```ts
 * const outcome = await runOptimizerLoop({ jobId, qpuStage: "qaoa", qpuEndpoint, params, identity, ed, pool, checkpointEvery: 4, fetch, deadline });
 * ```
 */
export async function runOptimizerLoop(options: OptimizerLoopOptions): Promise<OptimizerLoopOutcome> {
  const t0 = performance.now();
  let roundTrips = 0;
  let endpoint = await options.qpuEndpoint(false);
  const base = () => `${endpoint}/loop/${options.jobId}/${options.qpuStage}`;

  /** One exchange with retries: network errors, 5xx and 404 (the qpu has not started yet) back off. */
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
      const json = parseJsonLimited(text, { maxBytes: 64 * 1024, maxDepth: 8 });
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
  }

  const sign = (message: LoopMessage) => ({
    signer: options.identity.publicKey,
    sig: toHex(options.ed.sign(options.identity.secret, loopBytes(message))),
  });

  const session = await exchange("", undefined, sessionInfoSchema);
  const iterations = options.iterations ?? Number(options.params["iterations"] ?? 30);
  const raw = {
    initial: options.params["initial"] ?? session.initial,
    ...(options.params["stepSize"] === undefined ? {} : { stepSize: options.params["stepSize"] }),
  };
  const evaluations: number[] = [];
  const inputNow = () => parseProgramInput(qaoaOptimizer, { ...raw, evaluations: [...evaluations] });
  qaoaOptimizerInputSchema.parse({ ...raw, evaluations: [] });
  // The same sequence as runQaoaLoop: propose, evaluate remotely, resume from the encoded state.
  let state: QaoaOptimizerState = qaoaOptimizer.init(inputNow());
  const sent: QaoaAngles[] = [];
  let round = 0;
  while (round < iterations) {
    const angles = sent[round] ?? proposedAngles(state);
    sent[round] = angles;
    let reply: z.output<typeof roundReplySchema>;
    try {
      reply = await exchange(
        "/rounds",
        {
          round,
          angles,
          ...sign({ kind: "round", jobId: options.jobId, stage: options.qpuStage, round, angles }),
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
  await exchange(
    "/done",
    {
      rounds: iterations,
      ...sign({ kind: "done", jobId: options.jobId, stage: options.qpuStage, rounds: iterations }),
    },
    z.strictObject({ rounds: z.number().int(), root: hex32Schema }),
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
    roundTrips,
    loopMs,
  };
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
