import { nobleEd25519 } from "../protocol/ed25519.noble.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";

/** The part of `fetch` the SDK uses; the global `fetch` and any wrapper of it (latency emulation) fit. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * A listener type that is checked bivariantly (the method-parameter rule), so both the browser's
 * `WebSocket` and the `ws` package's class, whose event types differ in detail, fit one interface.
 */
type Listener<E> = { bivarianceHack(event: E): void }["bivarianceHack"] | null;

/** The part of the WHATWG `WebSocket` the SDK uses (browsers, Node ≥ 22, and the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Listener<unknown>;
  onmessage: Listener<{ readonly data: unknown }>;
  onclose: Listener<{ readonly code: number; readonly reason: string }>;
  onerror: Listener<unknown>;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

export interface CreateClientParameters {
  /** The coordinator's base URL, e.g. `http://127.0.0.1:7700`. */
  readonly url: string;
  /** Default: the global `fetch`. Pass a wrapper to add latency emulation, logging or auth. */
  readonly fetch?: FetchLike;
  /**
   * Default: the global `WebSocket` (browsers, Node ≥ 22). On Node 20 pass the `ws` package's
   * class; only `watchJob` and `subscribeAssignments` need one.
   */
  readonly WebSocket?: WebSocketConstructorLike;
  /** Signature scheme for `signAndSubmit`; default the isomorphic noble adapter. */
  readonly ed?: Ed25519;
  /** Per-request timeout in milliseconds (default 15,000). */
  readonly timeoutMs?: number;
}

/** Per-identity nonce bookkeeping, shared by every `signAndSubmit` on one client. */
export interface NonceSlot {
  /** Last nonce this process knows to be accepted; undefined = ask the coordinator. */
  last: bigint | undefined;
  /** Tail of the queue of this identity's submissions: they are signed and sent one at a time. */
  tail: Promise<unknown>;
}

/** @internal Mutable state of a client: the network id and the nonce slots. */
export interface ClientInternals {
  net: string | undefined;
  readonly nonces: Map<PublicKeyHex, NonceSlot>;
}

export interface Client {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly fetch: FetchLike;
  readonly WebSocket: WebSocketConstructorLike | undefined;
  readonly ed: Ed25519;
  readonly timeoutMs: number;
  /** @internal */
  readonly internals: ClientInternals;
}

export type CreateClientErrorType = SwitchyardError & { code: "MALFORMED" };

/**
 * A client for one coordinator: its URL, transport and the per-identity nonce cache. Every SDK
 * action takes it as its first argument. Throws MALFORMED for a URL that is not http(s).
 *
 * @example
 * import { createClient } from "./create-client.ts";
 * import { getStatus } from "./get-status.ts";
 * const client = createClient({ url: "http://127.0.0.1:7700" });
 * const status = await getStatus(client);
 * console.log(status.net, status.seq);
 */
export function createClient(parameters: CreateClientParameters): Client {
  let parsed: URL;
  try {
    parsed = new URL(parameters.url);
  } catch (cause) {
    throw new SwitchyardError(
      "MALFORMED",
      `'${parameters.url}' is not a URL; expected e.g. http://host:port`,
      {
        cause,
      },
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new SwitchyardError("MALFORMED", `the coordinator URL must be http(s), got ${parsed.protocol}`);
  }
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
  const fetchImpl = parameters.fetch ?? globalFetch;
  if (fetchImpl === undefined) {
    throw new SwitchyardError("MALFORMED", "no fetch implementation: pass `fetch` to createClient");
  }
  const globalWebSocket = (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
  return {
    url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`,
    // A bare reference to the global fetch must be called with globalThis as `this` in browsers.
    fetch: parameters.fetch ?? ((input, init) => fetchImpl.call(globalThis, input, init)),
    WebSocket: parameters.WebSocket ?? globalWebSocket,
    ed: parameters.ed ?? nobleEd25519,
    timeoutMs: parameters.timeoutMs ?? 15_000,
    internals: { net: undefined, nonces: new Map() },
  };
}
