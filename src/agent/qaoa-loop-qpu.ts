/**
 * The qpu half of the QAOA loop (wire in qaoa-loop.ts): the agent running a `qaoa-maxcut` stage
 * serves `/loop/:jobId/:stage` on its HTTP server, evaluates each round the optimizer sends in its
 * worker pool, one at a time and in order, and commits a Merkle root over the per-round roots.
 */
import { Hono } from "hono";
import type { z } from "zod";
import { fromHex } from "../protocol/bytes.ts";
import { canonicalize } from "../protocol/canonical.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32, PublicKeyHex } from "../protocol/ids.ts";
import { parseJsonLimited } from "../protocol/json.ts";
import { merkleRoot } from "../protocol/merkle.ts";
import type { WorkerPool } from "../runtime/pool.ts";
import type { MaxCutGraph, QaoaAngles } from "../runtime/programs/qaoa-maxcut.ts";
import { errorResponse } from "./http.ts";
import {
  doneRequestSchema,
  type LoopMessage,
  loopBytes,
  loopJsonLimits,
  roundRequestSchema,
} from "./qaoa-loop.ts";

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
      await authorize(options.ed, session, body, {
        kind: "round",
        jobId,
        stage,
        round: body.round,
        angles: body.angles,
      });
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
      await authorize(options.ed, session, body, { kind: "done", jobId, stage, rounds: body.rounds });
      const outcome = await inOrder(session, async () => finishSession(session, body.rounds));
      return c.json({ rounds: outcome.rounds, root: outcome.root });
    } catch (error) {
      return errorResponse(c, error);
    }
  });

  return {
    app,
    roundsServed: () => served,
    serve: (sessionOptions) => openSession(sessions, sessionOptions),
  };
}

/** Registers a session and resolves with its outcome once the optimizer says done, or rejects at the deadline. */
function openSession(
  sessions: Map<string, Session>,
  sessionOptions: QpuSessionOptions,
): Promise<QpuLoopOutcome> {
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
}

/** The optimizer's `done` after `rounds` rounds: the session's outcome, the same for a repeated `done`. */
function finishSession(session: Session, rounds: number): QpuLoopOutcome {
  if (rounds !== session.rounds.length) {
    throw new SwitchyardError(
      "ILLEGAL_TRANSITION",
      `done after ${rounds} rounds, but ${session.rounds.length} were evaluated here`,
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
}

/** Only the provider of the loop's optimizer stage may drive it: otherwise anyone could steer what the qpu commits. */
async function authorize(
  ed: Ed25519,
  session: Session,
  body: { signer: string; sig: string },
  message: LoopMessage,
): Promise<void> {
  if (!ed.verify(fromHex(body.signer), loopBytes(message), fromHex(body.sig))) {
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

/** Runs `fn` after the session's earlier requests: rounds are evaluated one at a time, in order. */
function inOrder<T>(session: Session, fn: () => Promise<T>): Promise<T> {
  const run = session.tail.then(fn);
  session.tail = run.catch(() => {});
  return run;
}

async function bodyOf(req: Request): Promise<unknown> {
  return parseJsonLimited(await req.text(), loopJsonLimits);
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new SwitchyardError("MALFORMED", `loop message: ${r.error.issues[0]?.message ?? "invalid"}`);
  return r.data;
}
