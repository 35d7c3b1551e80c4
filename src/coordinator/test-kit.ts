/**
 * Helpers for the coordinator's tests: a quiet coordinator on 127.0.0.1 port 0, identities from
 * names, a signer that tracks nonces, small HTTP helpers over fetch, and `waitFor`, which polls a
 * condition instead of sleeping for a guessed time.
 */
import { pino } from "pino";
import type { ApiError, Receipt } from "../protocol/api.ts";
import { utf8 } from "../protocol/bytes.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import {
  type Envelope,
  encodeEnvelope,
  type Identity,
  identityFromSecret,
  signEnvelope,
} from "../protocol/envelope.ts";
import { sha256 } from "../protocol/hash.ts";
import type { MessageType } from "../protocol/messages.ts";
import { type Coordinator, type CoordinatorOptions, startCoordinator } from "./coordinator.ts";

export const silentLogger = pino({ level: "silent" });

/** A deterministic identity from a name — for tests only. */
export function testIdentity(name: string): Identity {
  return identityFromSecret(nodeEd25519, sha256(utf8(`switchyard-coordinator-test:${name}`)));
}

export const coordinatorIdentity = testIdentity("coordinator");

/** A coordinator for tests: memory store, dev faucet, quick ticks, no log output. */
export function startTestCoordinator(options: Partial<CoordinatorOptions> = {}): Promise<Coordinator> {
  return startCoordinator({
    store: "memory",
    identity: coordinatorIdentity,
    net: "testnet",
    devFaucet: true,
    port: 0,
    tickIntervalMs: 20,
    verifierThreads: 1,
    logger: silentLogger,
    ...options,
  });
}

/** Signs messages for one network, each identity with its next nonce. */
export class Signer {
  readonly #nonces = new Map<string, bigint>();
  constructor(readonly net: string) {}

  sign<T extends MessageType>(
    who: Identity,
    type: T,
    body: Parameters<typeof signEnvelope<T>>[5],
  ): Envelope<T> {
    const nonce = (this.#nonces.get(who.publicKey) ?? 0n) + 1n;
    this.#nonces.set(who.publicKey, nonce);
    return signEnvelope(nodeEd25519, who, this.net, nonce, type, body);
  }

  /** The wire JSON of a freshly signed message. */
  wire<T extends MessageType>(who: Identity, type: T, body: Parameters<typeof signEnvelope<T>>[5]) {
    return encodeEnvelope(this.sign(who, type, body) as Envelope);
  }
}

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** POST `body` (a value, sent as JSON, or a raw string) and read the JSON answer. */
export async function post<T = unknown>(base: string, path: string, body: unknown): Promise<HttpResult<T>> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

export async function get<T = unknown>(base: string, path: string): Promise<HttpResult<T>> {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  return {
    status: res.status,
    body: (type.includes("json") ? JSON.parse(text) : text) as T,
    headers: res.headers,
  };
}

/** Submit a signed message and return its receipt; throws with the API error otherwise. */
export async function submit(base: string, env: Envelope | Record<string, unknown>): Promise<Receipt> {
  const wire = typeof env["nonce"] === "bigint" ? encodeEnvelope(env as Envelope) : env;
  const res = await post<Receipt | ApiError>(base, "/v1/messages", wire);
  if (res.status !== 200) {
    const error = res.body as ApiError;
    throw new Error(`expected a receipt, got ${res.status} ${error.code}: ${error.message}`);
  }
  return res.body as Receipt;
}

/** The state hash the coordinator reports. */
export async function statusHash(base: string): Promise<string> {
  return (await get<{ stateHash: string }>(base, "/v1/status")).body.stateHash;
}

/**
 * Poll `probe` until it returns a value other than undefined. Gives up after `timeoutMs` (a
 * generous bound for a stuck test, not a timing assertion).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
