/**
 * The one HTTP path every SDK action takes: build the URL, send with a timeout, map every failure
 * to a typed SwitchyardError, and decode the body with the api.ts schema of the endpoint. Internal:
 * not exported from the SDK's index.
 */
import type { z } from "zod";
import { apiErrorSchema } from "../../protocol/api.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { parseJsonLimited } from "../../protocol/json.ts";
import type { Client } from "../create-client.ts";

/** Responses are bounded like requests: a list of 1,000 events is far below this. */
const maxResponseBytes = 64 << 20;
const maxResponseDepth = 64;

export interface RequestSpec<S extends z.ZodType> {
  readonly method: "GET" | "POST";
  /** Path with parameters filled in, e.g. `/v1/jobs/ab12…`. */
  readonly path: string;
  /** How the endpoint is named in errors, e.g. `GET /v1/jobs/:id`. */
  readonly endpoint: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  readonly schema: S;
}

/** The error for a coordinator that cannot be reached (refused, reset, DNS, timeout). */
export function unreachable(client: Client, endpoint: string, cause: unknown): SwitchyardError {
  const reason = describeCause(cause);
  return new SwitchyardError(
    "UNREACHABLE",
    `the coordinator is unreachable at ${client.url} (${endpoint}: ${reason}); check that it is running and the URL is right`,
    { details: { url: client.url, endpoint, unreachable: true, reason }, cause },
  );
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === "TimeoutError" || cause.name === "AbortError") return "timed out";
    const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (typeof inner?.code === "string") return inner.code;
    return cause.message;
  }
  return String(cause);
}

/** True when `e` is the error {@link unreachable} builds: the request's outcome is unknown. */
export function isUnreachable(e: unknown): boolean {
  return e instanceof SwitchyardError && e.code === "UNREACHABLE";
}

export function buildUrl(client: Client, path: string, query?: RequestSpec<z.ZodType>["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return `${client.url}${path}${qs === "" ? "" : `?${qs}`}`;
}

export async function request<S extends z.ZodType>(
  client: Client,
  spec: RequestSpec<S>,
): Promise<z.output<S>> {
  const url = buildUrl(client, spec.path, spec.query);
  let response: Response;
  let text: string;
  try {
    response = await client.fetch(url, {
      method: spec.method,
      headers:
        spec.body === undefined ? { accept: "application/json" } : { "content-type": "application/json" },
      ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
      signal: AbortSignal.timeout(client.timeoutMs),
    });
    text = await response.text();
  } catch (cause) {
    throw unreachable(client, spec.endpoint, cause);
  }
  return decodeResponse(spec, response.status, response.ok, text);
}

function decodeResponse<S extends z.ZodType>(
  spec: RequestSpec<S>,
  status: number,
  ok: boolean,
  text: string,
): z.output<S> {
  let json: unknown;
  let parseError: SwitchyardError | undefined;
  try {
    json = parseJsonLimited(text, { maxBytes: maxResponseBytes, maxDepth: maxResponseDepth });
  } catch (e) {
    parseError = e instanceof SwitchyardError ? e : new SwitchyardError("MALFORMED", String(e));
  }
  if (!ok) throw errorFromBody(spec.endpoint, status, parseError === undefined ? json : undefined, text);
  if (parseError !== undefined) {
    throw new SwitchyardError(
      "MALFORMED",
      `${spec.endpoint}: the response is not JSON (${parseError.message})`,
      {
        details: { endpoint: spec.endpoint, httpStatus: status },
        cause: parseError,
      },
    );
  }
  const decoded = spec.schema.safeParse(json);
  if (!decoded.success) {
    const issues = decoded.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new SwitchyardError(
      "MALFORMED",
      `${spec.endpoint}: the response does not match the API schema (${issues}); the coordinator and this client disagree on the API version`,
      { details: { endpoint: spec.endpoint, httpStatus: status } },
    );
  }
  return decoded.data;
}

/** A non-2xx response: the coordinator's ApiError when the body is one, else a code from the status. */
export function errorFromBody(
  endpoint: string,
  status: number,
  json: unknown,
  text: string,
): SwitchyardError {
  const api = apiErrorSchema.safeParse(json);
  if (api.success) {
    return new SwitchyardError(api.data.code, api.data.message, {
      details: { ...api.data.details, endpoint, httpStatus: status },
    });
  }
  const code =
    status === 404
      ? "NOT_FOUND"
      : status === 413
        ? "TOO_LARGE"
        : status >= 500
          ? "STORE_UNAVAILABLE"
          : "MALFORMED";
  return new SwitchyardError(code, `${endpoint} answered HTTP ${status}: ${text.slice(0, 200)}`, {
    details: { endpoint, httpStatus: status },
  });
}
