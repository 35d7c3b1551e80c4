/**
 * Signature verification off the sequencer's thread. Ed25519 verification is the most expensive
 * step of admitting a message (~70 µs on this machine against ~2 µs to apply a transfer), and it
 * needs no state, so it runs on worker threads while the main thread sequences, hashes and persists.
 *
 * Requests made in one turn of the event loop travel to a worker as one batch (one postMessage
 * each way instead of one per message). Verdicts may come back in any order across workers; the
 * sequencer restores arrival order itself. If a worker dies, its outstanding envelopes are verified
 * on the main thread instead, so a crash can slow admission but never skip a check.
 */
import { Worker } from "node:worker_threads";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { type Envelope, verifyEnvelope } from "../protocol/envelope.ts";
import { type ErrorCode, isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";

/** Verifies envelope signatures. `verify` never rejects: it resolves the typed refusal, or null. */
export interface SignatureVerifier {
  readonly threads: number;
  verify(env: Envelope): Promise<SwitchyardError | null>;
  close(): Promise<void>;
}

/** @internal Messages between verifier.ts and verify-worker.ts. */
export interface VerifyRequest {
  readonly id: number;
  readonly envelopes: readonly Envelope[];
}
/** @internal */
export interface VerifyReply {
  readonly id: number;
  readonly verdicts: ReadonlyArray<{
    code: ErrorCode;
    message: string;
    details: Readonly<Record<string, unknown>>;
  } | null>;
}

interface Waiting {
  readonly env: Envelope;
  readonly resolve: (verdict: SwitchyardError | null) => void;
}

interface Thread {
  readonly worker: Worker;
  /** Batches sent and not yet answered, by request id. */
  readonly outstanding: Map<number, readonly Waiting[]>;
  queued: number;
}

const tsxApi = import.meta.resolve("tsx/esm/api");
const workerEntry = new URL("./verify-worker.ts", import.meta.url).href;
// Workers load TypeScript through tsx's API, as src/runtime/pool.ts does and for the same reason:
// Node 20 workers do not inherit `--import tsx` for their entry.
const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerEntry)}); });`;

/** Verify on the calling thread: the fallback, and the whole verifier when `threads` is 0. */
function verifyHere(env: Envelope): SwitchyardError | null {
  try {
    verifyEnvelope(nodeEd25519, env);
    return null;
  } catch (e) {
    if (isSwitchyardError(e)) return e;
    return new SwitchyardError("BAD_SIGNATURE", "signature check failed", { cause: e });
  }
}

/**
 * A verifier with `threads` worker threads (0: verify on the calling thread).
 *
 * @example
 * const verifier = createSignatureVerifier(1);
 * const refusal = await verifier.verify(env); // null when the signature is valid
 */
export function createSignatureVerifier(threads: number): SignatureVerifier {
  if (!Number.isSafeInteger(threads) || threads < 0) {
    throw new SwitchyardError("MALFORMED", `verifier threads must be a non-negative integer, got ${threads}`);
  }
  if (threads === 0) {
    return { threads, verify: async (env) => verifyHere(env), close: async () => {} };
  }
  const pool: Thread[] = [];
  let waiting: Waiting[] = [];
  let flushScheduled = false;
  let nextId = 1;
  let closed = false;

  const fallBack = (thread: Thread) => {
    for (const batch of thread.outstanding.values()) for (const w of batch) w.resolve(verifyHere(w.env));
    thread.outstanding.clear();
    thread.queued = 0;
  };

  const spawn = (): Thread => {
    const worker = new Worker(bootstrap, { eval: true, execArgv: [] });
    const thread: Thread = { worker, outstanding: new Map(), queued: 0 };
    worker.on("message", (reply: VerifyReply | { ready: true }) => {
      if (!("id" in reply)) return;
      const batch = thread.outstanding.get(reply.id);
      if (batch === undefined) return;
      thread.outstanding.delete(reply.id);
      thread.queued -= batch.length;
      batch.forEach((w, i) => {
        const v = reply.verdicts[i];
        w.resolve(v == null ? null : new SwitchyardError(v.code, v.message, { details: v.details }));
      });
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

  const flush = () => {
    flushScheduled = false;
    const batch = waiting;
    waiting = [];
    if (closed) {
      for (const w of batch) w.resolve(verifyHere(w.env));
      return;
    }
    // Split the turn's requests evenly, each share to the least-loaded thread.
    const share = Math.ceil(batch.length / pool.length);
    for (let at = 0; at < batch.length; at += share) {
      const part = batch.slice(at, at + share);
      const thread = pool.reduce((a, b) => (b.queued < a.queued ? b : a));
      const id = nextId++;
      thread.outstanding.set(id, part);
      thread.queued += part.length;
      thread.worker.ref();
      const request: VerifyRequest = { id, envelopes: part.map((w) => w.env) };
      thread.worker.postMessage(request);
    }
  };

  return {
    threads,
    verify(env) {
      return new Promise((resolve) => {
        waiting.push({ env, resolve });
        if (!flushScheduled) {
          flushScheduled = true;
          // setImmediate, not a microtask: requests from every connection served in this turn of
          // the event loop share one batch.
          setImmediate(flush);
        }
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
