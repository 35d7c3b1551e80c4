/**
 * The agent's HTTP plumbing: one Node server per agent (blob transfer and the loop endpoint share
 * it), and errors as ApiError bodies with the same statuses the coordinator uses for the codes an
 * agent returns.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiError } from "../protocol/api.ts";
import { type ErrorCode, isSwitchyardError } from "../protocol/errors.ts";

const statusOf: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  MALFORMED: 400,
  TOO_LARGE: 413,
  BAD_SIGNATURE: 401,
  NOT_AUTHORIZED: 403,
  NOT_FOUND: 404,
  UNKNOWN_JOB: 404,
  UNKNOWN_STAGE: 404,
  ILLEGAL_TRANSITION: 409,
  STORE_UNAVAILABLE: 503,
};

/** An error as an ApiError response; anything that is not a SwitchyardError is a 500 without internals. */
export function errorResponse(c: Context, error: unknown): Response {
  if (isSwitchyardError(error)) {
    const body: ApiError = { code: error.code, message: error.message, details: { ...error.details } };
    return c.json(body, statusOf[error.code] ?? 500);
  }
  const body: ApiError = { code: "INVARIANT_VIOLATED", message: "internal error in the agent", details: {} };
  return c.json(body, 500);
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
