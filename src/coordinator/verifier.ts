/**
 * The coordinator's Ed25519 work off the sequencer's thread: verifying envelope signatures (~70 µs
 * each on this machine, against ~2 µs to apply a transfer) and signing receipts (~30 µs). Neither
 * needs the state, so both run on worker threads while the main thread sequences and persists: a
 * message's signature is checked before it is sequenced, and its receipt is signed while its
 * append is in flight.
 *
 * Requests made in one turn of the event loop travel to a worker as one batch (one postMessage each
 * way instead of one per message). Results may come back in any order across workers; the
 * sequencer restores arrival order itself. If a worker dies, its outstanding work is redone on the
 * main thread, so a crash can slow admission but never skip a check.
 */
import { Worker } from "node:worker_threads";
import type { Receipt } from "../protocol/api.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { type Envelope, type Identity, verifyEnvelope } from "../protocol/envelope.ts";
import { type ErrorCode, isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import { payloadJson } from "./event-hash.ts";
import { signReceipt, type UnsignedReceipt } from "./receipts.ts";

/**
 * A verified envelope with the canonical JSON of its log payload (see event-hash.ts: computed here,
 * off the sequencer's thread), or the typed refusal (BAD_SIGNATURE, MALFORMED).
 */
export type Verified =
  | { readonly ok: true; readonly payload: string }
  | { readonly ok: false; readonly error: SwitchyardError };

/** Verifies envelopes and signs receipts. Neither method rejects. */
export interface CryptoPool {
  readonly threads: number;
  verify(env: Envelope): Promise<Verified>;
  /** The receipt for `fields`, signed by the pool's identity. */
  signReceipt(fields: Omit<UnsignedReceipt, "coordinator">): Promise<Receipt>;
  close(): Promise<void>;
}

type Fields = Omit<UnsignedReceipt, "coordinator">;
type SerializedError = { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> };
type SerializedVerdict = { readonly payload: string } | { readonly error: SerializedError };

/** @internal Messages between verifier.ts and verify-worker.ts. */
export interface CryptoRequest {
  readonly id: number;
  readonly verify: readonly Envelope[];
  readonly sign: readonly Fields[];
}
/** @internal */
export interface CryptoReply {
  readonly id: number;
  readonly verdicts: readonly SerializedVerdict[];
  readonly receipts: readonly Receipt[];
}
/** @internal The worker's setup: the identity that signs receipts. */
export interface CryptoSetup {
  readonly identity: Identity;
}

interface Batch {
  readonly verify: Array<{ env: Envelope; resolve: (v: Verified) => void }>;
  readonly sign: Array<{ fields: Fields; resolve: (r: Receipt) => void }>;
}

interface Thread {
  readonly worker: Worker;
  /** Batches sent and not yet answered, by request id. */
  readonly outstanding: Map<number, Batch>;
  queued: number;
}

const tsxApi = import.meta.resolve("tsx/esm/api");
const workerEntry = new URL("./verify-worker.ts", import.meta.url).href;
// Workers load TypeScript through tsx's API, as src/runtime/pool.ts does and for the same reason:
// Node 20 workers do not inherit `--import tsx` for their entry.
const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerEntry)}); });`;

/** Verify on the calling thread: the fallback, and the whole pool when it has no threads. */
export function verifyHere(env: Envelope): Verified {
  try {
    verifyEnvelope(nodeEd25519, env);
    return { ok: true, payload: payloadJson({ kind: "msg", env }) };
  } catch (e) {
    const error = isSwitchyardError(e)
      ? e
      : new SwitchyardError("BAD_SIGNATURE", "signature check failed", { cause: e });
    return { ok: false, error };
  }
}

/** The worker's answer for one envelope, as it travels back. */
export function serializeVerdict(v: Verified): SerializedVerdict {
  return v.ok ? { payload: v.payload } : { error: v.error.toJSON() };
}

function deserializeVerdict(v: SerializedVerdict): Verified {
  if ("payload" in v) return { ok: true, payload: v.payload };
  return {
    ok: false,
    error: new SwitchyardError(v.error.code, v.error.message, { details: v.error.details }),
  };
}

const emptyBatch = (): Batch => ({ verify: [], sign: [] });
/** Items per message to a worker: ~3 ms of verification, small enough to pipeline with sequencing. */
const chunkSize = 32;
const size = (b: Batch) => b.verify.length + b.sign.length;

/**
 * A pool of `threads` worker threads (0: everything on the calling thread) signing as `identity`.
 *
 * @example
 * const pool = createCryptoPool(identity, 1);
 * const refusal = await pool.verify(env); // null when the signature is valid
 */
export function createCryptoPool(identity: Identity, threads: number): CryptoPool {
  if (!Number.isSafeInteger(threads) || threads < 0) {
    throw new SwitchyardError("MALFORMED", `crypto threads must be a non-negative integer, got ${threads}`);
  }
  const doHere = (batch: Batch) => {
    for (const v of batch.verify) v.resolve(verifyHere(v.env));
    for (const s of batch.sign) s.resolve(signReceipt(nodeEd25519, identity, s.fields));
  };
  if (threads === 0) {
    return {
      threads,
      verify: async (env) => verifyHere(env),
      signReceipt: async (fields) => signReceipt(nodeEd25519, identity, fields),
      close: async () => {},
    };
  }
  const pool: Thread[] = [];
  let waiting = emptyBatch();
  let flushScheduled = false;
  let nextId = 1;
  let closed = false;

  const fallBack = (thread: Thread) => {
    for (const batch of thread.outstanding.values()) doHere(batch);
    thread.outstanding.clear();
    thread.queued = 0;
  };

  const spawn = (): Thread => {
    const setup: CryptoSetup = { identity };
    const worker = new Worker(bootstrap, { eval: true, execArgv: [], workerData: setup });
    const thread: Thread = { worker, outstanding: new Map(), queued: 0 };
    worker.on("message", (reply: CryptoReply | { ready: true }) => {
      if (!("id" in reply)) return;
      const batch = thread.outstanding.get(reply.id);
      if (batch === undefined) return;
      thread.outstanding.delete(reply.id);
      thread.queued -= size(batch);
      for (const [i, v] of batch.verify.entries()) v.resolve(deserializeVerdict(reply.verdicts[i]!));
      for (const [i, s] of batch.sign.entries()) s.resolve(reply.receipts[i]!);
      if (thread.outstanding.size === 0) worker.unref();
    });
    const replace = () => {
      const at = pool.indexOf(thread);
      if (at < 0) return;
      fallBack(thread);
      if (closed) pool.splice(at, 1);
      else pool[at] = spawn();
    };
    worker.on("error", replace);
    worker.on("exit", replace);
    worker.unref();
    return thread;
  };
  for (let i = 0; i < threads; i++) pool.push(spawn());

  const send = (thread: Thread, batch: Batch) => {
    const id = nextId++;
    thread.outstanding.set(id, batch);
    thread.queued += size(batch);
    thread.worker.ref();
    const request: CryptoRequest = {
      id,
      verify: batch.verify.map((v) => v.env),
      sign: batch.sign.map((s) => s.fields),
    };
    thread.worker.postMessage(request);
  };

  const flush = () => {
    flushScheduled = false;
    const batch = waiting;
    waiting = emptyBatch();
    if (closed || pool.length === 0) return doHere(batch);
    // Chunks, each to the least-loaded thread: a worker answers chunk by chunk, so the sequencer
    // starts on the first verdicts while the rest are being verified, instead of waiting for a
    // whole 256-message request (~20 ms of verification) to come back at once.
    for (let at = 0; at < size(batch); at += chunkSize) {
      const signFrom = Math.max(0, at - batch.verify.length);
      const part: Batch = {
        verify: batch.verify.slice(at, at + chunkSize),
        sign: batch.sign.slice(signFrom, Math.max(signFrom, at + chunkSize - batch.verify.length)),
      };
      send(
        pool.reduce((a, b) => (b.queued < a.queued ? b : a)),
        part,
      );
    }
  };
  const schedule = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    // setImmediate, not a microtask: work from every connection served in this turn of the event
    // loop shares one message.
    setImmediate(flush);
  };

  return {
    threads,
    verify(env) {
      return new Promise((resolve) => {
        waiting.verify.push({ env, resolve });
        schedule();
      });
    },
    signReceipt(fields) {
      return new Promise((resolve) => {
        waiting.sign.push({ fields, resolve });
        schedule();
      });
    },
    async close() {
      closed = true;
      const threads = pool.splice(0);
      for (const t of threads) fallBack(t);
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
