/**
 * Runs step programs off the main thread, in node:worker_threads, with limits a provider can
 * promise: a wall-clock limit per job (the worker is terminated, which stops even a tight loop,
 * and the job fails with PROGRAM_LIMIT) and a V8 heap limit per worker (`resourceLimits`; a worker
 * that exceeds it is killed by V8 and the job fails with PROGRAM_LIMIT, while the host process and
 * its other workers carry on: see defaultYoungGenerationMb for what that takes). The heap limit does not
 * cover ArrayBuffer memory (typed arrays); the built-in programs bound that through their input
 * schemas (vocabulary and layer sizes, qubit count).
 *
 * Workers are started lazily, reused between jobs, and replaced after a kill. Idle workers are
 * unref'd, so a pool nobody closed does not keep the process alive.
 *
 * Workers load TypeScript through tsx's ESM API in a small bootstrap, which works the same when
 * the parent runs under `node --import tsx` (the test runner) or `npx tsx` (the CLI); inheriting
 * the parent's execArgv would not (Node 20 workers ignore `--import` hooks for their entry, and the
 * test runner's own flags are not valid in a worker).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type ErrorCode, SwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import type { ResumePoint, RunResult } from "./program.ts";

export interface WorkerPoolOptions {
  /** Worker threads; default availableParallelism() − 1, at least 1 (one core stays for I/O). */
  readonly size?: number;
  /** Default wall-clock limit per job, in milliseconds, from dispatch to result. */
  readonly timeLimitMs?: number;
  /** V8 old-generation heap limit of each worker, in MiB. */
  readonly memoryLimitMb?: number;
  /** V8 young-generation size of each worker, in MiB (see defaultYoungGenerationMb). */
  readonly youngGenerationMb?: number;
  /** URL of a module exporting `programs: ProgramRegistry`; default the built-in programs. */
  readonly programsModule?: string;
}

export interface ProgramJob {
  /** Registry id, e.g. "mlp-train". */
  readonly program: string;
  /** Raw parameters; the worker validates them with the program's schema. */
  readonly input: unknown;
  readonly checkpointEvery: number;
  /** Also return each checkpoint's encoded state (a provider keeps them for spot checks). */
  readonly keepStates?: boolean;
  /** Overrides the pool's timeLimitMs for this job. */
  readonly timeLimitMs?: number;
  /**
   * Finish a run from a saved checkpoint (program.ts resumeProgram): the state must hash to the
   * last of the checkpoint hashes, or the job fails with STATE_HASH_MISMATCH before any step.
   */
  readonly resume?: ResumePoint;
  /**
   * Called on the pool's thread as each checkpoint is taken, while the program runs on (a provider
   * reports progress from it). A resumed run reports only the checkpoints after its resume point.
   */
  readonly onCheckpoint?: (checkpoint: Checkpoint) => void;
}

/** A checkpoint as a running job reports it. */
export interface Checkpoint {
  /** Position in the run's checkpoint list (checkpointSteps). */
  readonly index: number;
  readonly step: number;
  /** The run's declared step count: with checkpointEvery it fixes the checkpoint layout. */
  readonly steps: number;
  readonly hash: Hex32;
  /** The encoded state; hashes to `hash` at `step`. */
  readonly state: Uint8Array;
}

export interface WorkerPool {
  readonly size: number;
  /** Runs a job when a worker is free. Rejects with a SwitchyardError (PROGRAM_LIMIT, …). */
  run(job: ProgramJob): Promise<RunResult<unknown>>;
  /** Terminates every worker; queued and running jobs fail with PROGRAM_FAILED. */
  close(): Promise<void>;
}

/** @internal Messages between pool and worker (worker.ts). */
export interface WorkerSetup {
  readonly programsModule: string;
}
/** @internal */
export interface WorkerRequest {
  readonly id: number;
  readonly program: string;
  readonly input: unknown;
  readonly checkpointEvery: number;
  /** Post every checkpoint as it is taken (for keepStates and onCheckpoint). */
  readonly streamCheckpoints?: boolean;
  readonly resume?: ResumePoint;
}
/** @internal */
export type WorkerReply =
  | { readonly kind: "ready" }
  | ({ readonly kind: "checkpoint"; readonly id: number } & Checkpoint)
  | { readonly kind: "result"; readonly id: number; readonly result: RunResult<unknown> }
  | {
      readonly kind: "failed";
      readonly id: number;
      readonly error: { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> };
    };

export const defaultTimeLimitMs = 60_000;
export const defaultMemoryLimitMb = 1024;
/**
 * Young-generation size of each worker, in MiB. Kept small on purpose. With V8's default young
 * generation, 3 workers hoarding memory at once aborted the whole host process (V8's fatal
 * out-of-memory, not the worker's ERR_WORKER_OUT_OF_MEMORY) in 5 of 8 runs on this 2-core machine;
 * with 4 MiB, none in 400 single-worker hoarding runs under load, and mlp-train ran as fast (within
 * run-to-run noise). Our reading of why, not traced inside V8: Node gives a worker that reaches its
 * heap limit 16 MiB of leeway while it terminates, and promoting a larger young generation into a
 * full old generation can overrun that.
 */
export const defaultYoungGenerationMb = 4;

export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism() - 1);
}

interface Pending {
  readonly request: WorkerRequest;
  readonly timeLimitMs: number;
  /** States of the streamed checkpoints, when the job keeps them. */
  readonly states: Uint8Array[] | undefined;
  readonly onCheckpoint: ((checkpoint: Checkpoint) => void) | undefined;
  readonly resolve: (result: RunResult<unknown>) => void;
  readonly reject: (error: SwitchyardError) => void;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  job: Pending | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const tsxApi = import.meta.resolve("tsx/esm/api");
const workerEntry = new URL("./worker.ts", import.meta.url).href;
const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerEntry)}); });`;

export function createWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  const size = options.size ?? defaultPoolSize();
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new SwitchyardError("MALFORMED", `pool size must be a positive integer, got ${size}`);
  }
  const timeLimitMs = options.timeLimitMs ?? defaultTimeLimitMs;
  const memoryLimitMb = options.memoryLimitMb ?? defaultMemoryLimitMb;
  const youngGenerationMb = options.youngGenerationMb ?? defaultYoungGenerationMb;
  const setup: WorkerSetup = {
    programsModule: options.programsModule ?? new URL("./programs/registry.ts", import.meta.url).href,
  };
  const queue: Pending[] = [];
  const slots = new Set<Slot>();
  let nextId = 1;
  let closed = false;

  function settle(slot: Slot): Pending | undefined {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    slot.worker.unref();
    return job;
  }

  function retire(slot: Slot, error: SwitchyardError): void {
    if (!slots.delete(slot)) return;
    const job = settle(slot);
    void slot.worker.terminate();
    // A worker that dies before it is ready fails the first queued job, so a broken setup
    // (bad programsModule) drains the queue instead of respawning forever.
    (job ?? (slot.ready ? undefined : queue.shift()))?.reject(error);
    pump();
  }

  function dispatch(slot: Slot, job: Pending): void {
    slot.job = job;
    slot.worker.ref();
    slot.timer = setTimeout(() => {
      retire(
        slot,
        new SwitchyardError(
          "PROGRAM_LIMIT",
          `program ${job.request.program} exceeded ${job.timeLimitMs} ms`,
          {
            details: { program: job.request.program, limit: "time", timeLimitMs: job.timeLimitMs },
          },
        ),
      );
    }, job.timeLimitMs);
    slot.worker.postMessage(job.request);
  }

  function onReply(slot: Slot, reply: WorkerReply): void {
    if (reply.kind === "ready") {
      slot.ready = true;
      pump();
      return;
    }
    if (slot.job?.request.id !== reply.id) return;
    if (reply.kind === "checkpoint") {
      const { kind: _, id: __, ...checkpoint } = reply;
      slot.job.states?.push(checkpoint.state);
      slot.job.onCheckpoint?.(checkpoint);
      return;
    }
    const job = settle(slot);
    if (reply.kind === "result")
      job?.resolve(job.states === undefined ? reply.result : { ...reply.result, states: job.states });
    else
      job?.reject(
        new SwitchyardError(reply.error.code, reply.error.message, { details: reply.error.details }),
      );
    pump();
  }

  function spawn(): void {
    const worker = new Worker(bootstrap, {
      eval: true,
      execArgv: [],
      workerData: setup,
      resourceLimits: { maxOldGenerationSizeMb: memoryLimitMb, maxYoungGenerationSizeMb: youngGenerationMb },
    });
    const slot: Slot = { worker, ready: false, job: undefined, timer: undefined };
    slots.add(slot);
    worker.unref();
    worker.on("message", (reply: WorkerReply) => onReply(slot, reply));
    worker.on("error", (cause: Error & { code?: string }) => {
      const program = slot.job?.request.program ?? "(starting)";
      retire(
        slot,
        cause.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? new SwitchyardError(
              "PROGRAM_LIMIT",
              `program ${program} exceeded the ${memoryLimitMb} MiB heap limit`,
              {
                details: { program, limit: "memory", memoryLimitMb },
                cause,
              },
            )
          : new SwitchyardError("PROGRAM_FAILED", `worker for ${program} crashed: ${cause.message}`, {
              details: { program },
              cause,
            }),
      );
    });
    worker.on("exit", (exitCode) => {
      retire(slot, new SwitchyardError("PROGRAM_FAILED", `worker exited with code ${exitCode}`));
    });
  }

  function pump(): void {
    if (closed) return;
    for (const slot of slots) {
      const job = slot.ready && slot.job === undefined ? queue.shift() : undefined;
      if (job !== undefined) dispatch(slot, job);
    }
    let starting = [...slots].filter((s) => !s.ready).length;
    while (queue.length > starting && slots.size < size) {
      spawn();
      starting++;
    }
  }

  return {
    size,
    run(job) {
      if (closed) return Promise.reject(new SwitchyardError("PROGRAM_FAILED", "the worker pool is closed"));
      return new Promise<RunResult<unknown>>((resolve, reject) => {
        const stream = job.keepStates === true || job.onCheckpoint !== undefined;
        const request: WorkerRequest = {
          id: nextId++,
          program: job.program,
          input: job.input,
          checkpointEvery: job.checkpointEvery,
          ...(stream ? { streamCheckpoints: true } : {}),
          ...(job.resume === undefined ? {} : { resume: job.resume }),
        };
        queue.push({
          request,
          timeLimitMs: job.timeLimitMs ?? timeLimitMs,
          states: job.keepStates === true ? [] : undefined,
          onCheckpoint: job.onCheckpoint,
          resolve,
          reject,
        });
        pump();
      });
    },
    async close() {
      closed = true;
      const closing = new SwitchyardError("PROGRAM_FAILED", "the worker pool was closed");
      for (const job of queue.splice(0)) job.reject(closing);
      await Promise.all(
        [...slots].map((slot) => {
          settle(slot)?.reject(closing);
          slots.delete(slot);
          return slot.worker.terminate();
        }),
      );
    },
  };
}
