/**
 * The HTTP API of src/protocol/api.ts on Hono. Writes are signed envelopes and nothing else; every
 * body is size-limited while it is read and depth-limited before it is parsed; every failure is a
 * typed ApiError with the status from http-errors.ts.
 */
import type { HttpBindings } from "@hono/node-server";
import { type Context, Hono } from "hono";
import { stateHash } from "../core/index.ts";
import { type ApiError, apiPaths, type Receipt } from "../protocol/api.ts";
import { decodeEnvelope, type Envelope } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { JobId, PublicKeyHex } from "../protocol/ids.ts";
import { parseJsonLimited } from "../protocol/json.ts";
import { encodeLogEvent } from "../protocol/log.ts";
import type { EventStore } from "../store/event-store.ts";
import { type BlobCache, mountBlobCache } from "./blob-cache.ts";
import { readBody } from "./body.ts";
import { apiErrorOf, asSwitchyardError, httpErrorOf } from "./http-errors.ts";
import type { CoordinatorMetrics } from "./metrics.ts";
import { maxBatchMessages } from "./openapi.ts";
import type { Sequencer } from "./sequencer.ts";
import { accountView, jobView, jobViews, marketView, nodeViews, rttView, statusView } from "./views.ts";
import { assignmentsOf, tasksOf } from "./work-views.ts";

export interface HttpLimits {
  /** Largest request body in bytes. */
  readonly maxBodyBytes: number;
  /** Deepest JSON nesting accepted. */
  readonly maxDepth: number;
}

export interface HttpApiContext {
  readonly sequencer: Sequencer;
  readonly store: EventStore;
  readonly coordinator: PublicKeyHex;
  readonly limits: HttpLimits;
  readonly metrics: CoordinatorMetrics;
  readonly lastSeen: (node: PublicKeyHex) => number | undefined;
  readonly openapi: Record<string, unknown>;
  /** Where providers mirror the checkpoint states they report (failover). */
  readonly blobs: BlobCache;
}

/** Most events one GET /v1/events returns, and the default. */
export const maxEventsPerPage = 1000;
const defaultEventsPerPage = 100;

const hexKey = /^[0-9a-f]{64}$/;

function requireHex(value: string | undefined, what: string): string {
  if (value === undefined || !hexKey.test(value)) {
    throw new SwitchyardError("MALFORMED", `${what} must be 64 lowercase hex digits`);
  }
  return value;
}

function queryInt(value: string | undefined, what: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,15}$/.test(value) || Number(value) < min) {
    throw new SwitchyardError("MALFORMED", `${what} must be an integer ≥ ${min}`);
  }
  return Number(value);
}

export function createHttpApi(ctx: HttpApiContext): Hono<{ Bindings: HttpBindings }> {
  const { sequencer, limits, metrics } = ctx;
  const net = sequencer.state.net ?? "";
  const app = new Hono<{ Bindings: HttpBindings }>();

  /** Parse, decode and check the network of one envelope; counts a refusal in the metrics. */
  const decode = (json: unknown): Envelope => {
    try {
      return decodeEnvelope(json, net);
    } catch (error) {
      if (isSwitchyardError(error)) metrics.rejected.inc({ code: error.code });
      throw error;
    }
  };
  const readJson = async (c: Context<{ Bindings: HttpBindings }>): Promise<unknown> => {
    try {
      const text = await readBody(c.env.incoming, limits.maxBodyBytes);
      return parseJsonLimited(text, { maxBytes: limits.maxBodyBytes, maxDepth: limits.maxDepth });
    } catch (error) {
      if (isSwitchyardError(error)) metrics.rejected.inc({ code: error.code });
      throw error;
    }
  };

  app.onError((error, c) => {
    const { status, body } = httpErrorOf(error);
    // An unread remainder of an oversized body must not be parsed as the next request.
    if (status === 413) c.header("Connection", "close");
    return c.json(body, status as 400);
  });
  app.notFound((c) =>
    c.json(apiErrorOf(new SwitchyardError("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`)), 404),
  );
  // After a halt the state in memory is ahead of the disk: serve none of it.
  app.use("/v1/*", async (_c, next) => {
    if (sequencer.halted !== null) throw sequencer.halted;
    await next();
  });

  app.post(apiPaths.messages, async (c) => {
    const receipt = await sequencer.submit(decode(await readJson(c)));
    return c.json(receipt);
  });

  app.post(apiPaths.messageBatch, async (c) => {
    const json = await readJson(c);
    const messages = (json as { messages?: unknown } | null)?.messages;
    if (typeof json !== "object" || json === null || Array.isArray(json) || !Array.isArray(messages)) {
      throw new SwitchyardError("MALFORMED", "a batch is { messages: envelope[] }");
    }
    if (Object.keys(json).length !== 1) throw new SwitchyardError("MALFORMED", "a batch has only `messages`");
    if (messages.length > maxBatchMessages) {
      throw new SwitchyardError("TOO_LARGE", `a batch holds at most ${maxBatchMessages} messages`, {
        details: { messages: messages.length, limit: maxBatchMessages },
      });
    }
    const results = await Promise.all(
      messages.map((m): Promise<Receipt | ApiError> => {
        try {
          return sequencer.submit(decode(m)).catch((e: unknown) => apiErrorOf(asSwitchyardError(e)));
        } catch (e) {
          return Promise.resolve(apiErrorOf(asSwitchyardError(e)));
        }
      }),
    );
    return c.json({ results });
  });

  app.get(apiPaths.status, (c) => {
    const state = sequencer.state;
    return c.json(
      statusView(state, {
        coordinator: ctx.coordinator,
        head: sequencer.appliedHead,
        stateHash: stateHash(state),
        store: ctx.store.kind,
        leader: true,
      }),
    );
  });
  app.get(apiPaths.nodes, (c) => c.json({ nodes: nodeViews(sequencer.state, ctx.lastSeen) }));
  app.get(apiPaths.rtt, (c) => {
    const from = requireHex(c.req.query("from"), "from") as PublicKeyHex;
    const to = requireHex(c.req.query("to"), "to") as PublicKeyHex;
    return c.json(rttView(sequencer.state, from, to));
  });
  app.get(apiPaths.market, (c) => c.json(marketView(sequencer.state)));
  app.get(apiPaths.jobs, (c) => {
    const requester = c.req.query("requester");
    const only = requester === undefined ? undefined : requireHex(requester, "requester");
    return c.json({ jobs: jobViews(sequencer.state, only) });
  });
  app.get(apiPaths.job, (c) => {
    const id = requireHex(c.req.param("id"), "job id") as JobId;
    const job = sequencer.state.jobs.get(id);
    if (job === undefined) throw new SwitchyardError("UNKNOWN_JOB", `no job ${id}`);
    return c.json(jobView(sequencer.state, job));
  });
  app.get(apiPaths.account, (c) => {
    const key = requireHex(c.req.param("key"), "account key") as PublicKeyHex;
    return c.json(accountView(sequencer.state, key));
  });
  app.get(apiPaths.assignments, (c) => {
    const key = requireHex(c.req.param("key"), "provider key") as PublicKeyHex;
    return c.json({ assignments: assignmentsOf(sequencer.state, key) });
  });
  app.get(apiPaths.tasks, (c) => {
    const key = requireHex(c.req.param("key"), "node key") as PublicKeyHex;
    return c.json({ tasks: tasksOf(sequencer.state, key) });
  });
  app.get(apiPaths.events, async (c) => {
    const from = queryInt(c.req.query("from"), "from", 0, 0);
    const limit = Math.min(
      maxEventsPerPage,
      queryInt(c.req.query("limit"), "limit", defaultEventsPerPage, 1),
    );
    const events: unknown[] = [];
    // Only durable events: the store is the source, not the state in memory.
    for await (const e of ctx.store.read(from, limit)) events.push({ ...encodeLogEvent(e), hash: e.hash });
    return c.json({ events });
  });

  mountBlobCache(app, ctx.blobs);

  app.get(apiPaths.openapi, (c) => c.json(ctx.openapi));
  app.get(apiPaths.metrics, async (c) =>
    c.body(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType }),
  );
  app.get(apiPaths.health, (c) => {
    const halted = sequencer.halted;
    if (halted !== null) return c.json(apiErrorOf(halted), 503);
    return c.json({ ok: true, seq: sequencer.durableHead.seq });
  });
  return app;
}
