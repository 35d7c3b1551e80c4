/**
 * The agent's HTTP plumbing: one Node server per agent (blob transfer and the loop endpoint share
 * it), and errors as ApiError bodies with the statuses of src/protocol/http-status.ts.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiError } from "../protocol/api.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import { httpStatusOf } from "../protocol/http-status.ts";

/** An error as an ApiError response; anything that is not a SwitchyardError is a 500 without internals. */
export function errorResponse(c: Context, error: unknown): Response {
  if (isSwitchyardError(error)) {
    const body: ApiError = { code: error.code, message: error.message, details: { ...error.details } };
    return c.json(body, httpStatusOf[error.code] as ContentfulStatusCode);
  }
  const body: ApiError = { code: "INVARIANT_VIOLATED", message: "internal error in the agent", details: {} };
  return c.json(body, 500);
}

/** Counts of a route group served through `limitInFlight`. */
export interface RequestCounts {
  requests: number;
  rejected: number;
}

/**
 * Middleware that admits at most `maxConcurrent` requests at once and answers the rest with a typed
 * STORE_UNAVAILABLE and `retry-after: 1`, counting both in `counts`.
 *
 * @example
 * app.use("/blobs/*", limitInFlight(32, "blob", counts));
 */
export function limitInFlight(maxConcurrent: number, what: string, counts: RequestCounts): MiddlewareHandler {
  let inFlight = 0;
  return async (c, next): Promise<Response | undefined> => {
    counts.requests++;
    if (inFlight >= maxConcurrent) {
      counts.rejected++;
      c.header("retry-after", "1");
      return errorResponse(
        c,
        new SwitchyardError(
          "STORE_UNAVAILABLE",
          `busy: ${inFlight} ${what} requests in flight; retry shortly`,
          {
            details: { inFlight, limit: maxConcurrent },
          },
        ),
      );
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
    return undefined;
  };
}

export interface AgentHttpServer {
  /** `http://host:port` as bound (the port is the real one when 0 was asked for). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `app` on host:port (port 0 = any free port) and resolves once it listens. */
export function serveApp(app: Hono, host: string, port: number): Promise<AgentHttpServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      server.off("error", reject);
      const shownHost = host.includes(":") ? `[${host}]` : host;
      resolve({
        url: `http://${shownHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            // Idle keep-alive sockets would hold close() open until they time out.
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
    server.once("error", reject);
  });
}
