/**
 * A reconnecting subscription to /v1/stream. After every (re)connect it runs `onOpen` (callers use
 * it to catch up with a GET, so nothing sequenced while they were away is missed); a failing
 * `onOpen` closes the socket and counts as a failed attempt. Reconnects back off exponentially with
 * jitter up to `maxDelayMs`, and the backoff resets once a connection caught up.
 */
import { apiPaths, type StreamFrame, streamFrameSchema } from "../../protocol/api.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { parseJsonLimited } from "../../protocol/json.ts";
import type { Client, WebSocketLike } from "../create-client.ts";

export interface Backoff {
  /** First reconnect delay (default 100 ms). */
  readonly initialDelayMs?: number;
  /** Largest reconnect delay (default 5,000 ms). */
  readonly maxDelayMs?: number;
}

/** What a subscription reports about its connection, for logs and progress displays. */
export type StreamStatus =
  | { readonly type: "connecting"; readonly attempt: number }
  | { readonly type: "open" }
  | { readonly type: "closed"; readonly code: number; readonly reason: string; readonly retryInMs: number }
  | { readonly type: "error"; readonly error: SwitchyardError };

export interface StreamHandlers {
  onOpen(): Promise<void>;
  onFrame(frame: StreamFrame): void;
  onStatus?: ((status: StreamStatus) => void) | undefined;
}

export interface StreamHandle {
  stop(): void;
}

export function streamUrl(client: Client, query: Readonly<Record<string, string>>): string {
  const base = client.url.replace(/^http/, "ws");
  return `${base}${apiPaths.stream}?${new URLSearchParams(query).toString()}`;
}

function frameText(data: unknown): string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data as Uint8Array);
  throw new SwitchyardError("MALFORMED", "stream frame is neither text nor bytes");
}

export function openStream(
  client: Client,
  query: Readonly<Record<string, string>>,
  handlers: StreamHandlers,
  backoff: Backoff = {},
): StreamHandle {
  const maybeSocket = client.WebSocket;
  if (maybeSocket === undefined) {
    throw new SwitchyardError(
      "MALFORMED",
      "no WebSocket implementation: pass `WebSocket` to createClient (on Node 20, the ws package's class)",
    );
  }
  const Socket = maybeSocket;
  const url = streamUrl(client, query);
  const initial = backoff.initialDelayMs ?? 100;
  const max = backoff.maxDelayMs ?? 5_000;
  const report = (status: StreamStatus) => handlers.onStatus?.(status);
  let attempt = 0;
  let stopped = false;
  let socket: WebSocketLike | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const reconnect = (code: number, reason: string) => {
    socket = undefined;
    if (stopped) return;
    const delay = Math.min(max, initial * 2 ** Math.min(attempt, 20));
    // Jitter spreads the reconnects of many agents after a coordinator restart.
    const retryInMs = Math.round(delay * (0.5 + Math.random() / 2));
    attempt++;
    report({ type: "closed", code, reason, retryInMs });
    timer = setTimeout(connect, retryInMs);
  };

  function connect(): void {
    timer = undefined;
    if (stopped) return;
    report({ type: "connecting", attempt });
    let ws: WebSocketLike;
    try {
      ws = new Socket(url);
    } catch (cause) {
      report({ type: "error", error: new SwitchyardError("MALFORMED", `cannot open ${url}`, { cause }) });
      reconnect(0, "constructor failed");
      return;
    }
    socket = ws;
    let closed = false;
    ws.onopen = () => {
      report({ type: "open" });
      handlers.onOpen().then(
        () => {
          if (!closed) attempt = 0;
        },
        (error: unknown) => {
          report({
            type: "error",
            error:
              error instanceof SwitchyardError
                ? error
                : new SwitchyardError("STORE_UNAVAILABLE", `catch-up failed: ${String(error)}`),
          });
          ws.close(4000, "catch-up failed");
        },
      );
    };
    ws.onmessage = (event) => {
      try {
        const frame = streamFrameSchema.safeParse(parseJsonLimited(frameText(event.data)));
        if (!frame.success) {
          throw new SwitchyardError(
            "MALFORMED",
            `stream frame does not match the API schema: ${frame.error.issues[0]?.message ?? "invalid"}`,
          );
        }
        handlers.onFrame(frame.data);
      } catch (error) {
        report({
          type: "error",
          error: error instanceof SwitchyardError ? error : new SwitchyardError("MALFORMED", String(error)),
        });
      }
    };
    ws.onerror = () => {
      // A close event follows every error; reconnecting happens there.
    };
    ws.onclose = (event) => {
      if (closed) return;
      closed = true;
      reconnect(event.code, event.reason);
    };
  }

  connect();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      socket?.close(1000, "unsubscribed");
      socket = undefined;
    },
  };
}
