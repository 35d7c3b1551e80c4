import type { JobView } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { JobId } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { getJob } from "./get-job.ts";
import { asyncQueue } from "./internal/async-queue.ts";
import { type Backoff, openStream, type StreamStatus } from "./internal/stream.ts";

export interface WatchJobParameters {
  readonly id: JobId | string;
  /** Ends the iteration and closes the socket when aborted. */
  readonly signal?: AbortSignal;
  readonly backoff?: Backoff;
  /** Connection changes and non-fatal errors (a failed catch-up, a malformed frame). */
  readonly onStatus?: (status: StreamStatus) => void;
}

/**
 * `job`: the whole job, after every (re)connect and when it finishes; `stage`: a stage changed
 * status; `event`: a log event that touches the job was sequenced.
 */
export type JobUpdate =
  | { readonly type: "job"; readonly job: JobView }
  | {
      readonly type: "stage";
      readonly jobId: string;
      readonly stage: string;
      readonly status: string;
      readonly seq: number;
    }
  | { readonly type: "event"; readonly seq: number; readonly kind: string; readonly time: number };

export type WatchJobReturnType = AsyncIterableIterator<JobUpdate>;

/**
 * The iterator throws UNKNOWN_JOB if the job does not exist. MALFORMED (thrown at once) when the
 * client has no WebSocket implementation.
 */
export type WatchJobErrorType = SwitchyardError;

const terminal = new Set(["settled", "failed", "cancelled"]);

/**
 * Follows a job on /v1/stream?job=<id> until it finishes. After every (re)connect it yields the
 * whole job (GET /v1/jobs/:id), so a watcher that was disconnected sees where things stand; the
 * last update is the finished job. The socket reconnects with backoff.
 *
 * @example
 * for await (const u of watchJob(client, { id: jobId })) {
 *   if (u.type === "stage") console.log(`${u.stage} → ${u.status}`);
 *   if (u.type === "job" && u.job.status === "finished") console.log(`refund ${u.job.refund}`);
 * }
 */
export function watchJob(client: Client, parameters: WatchJobParameters): WatchJobReturnType {
  const queue = asyncQueue<JobUpdate>(() => handle.stop());
  const finish = () => {
    handle.stop();
    queue.end();
  };
  const snapshot = async () => {
    let job: JobView;
    try {
      job = await getJob(client, { id: parameters.id });
    } catch (error) {
      if ((error as SwitchyardError).code === "UNKNOWN_JOB") {
        handle.stop();
        queue.end(error);
        return;
      }
      throw error;
    }
    queue.push({ type: "job", job });
    if (job.status === "finished") finish();
  };
  const handle = openStream(
    client,
    { job: parameters.id },
    {
      onOpen: snapshot,
      onFrame(frame) {
        if (frame.type === "stage" && frame.jobId === parameters.id) {
          const { jobId, stage, status, seq } = frame;
          queue.push({ type: "stage", jobId, stage, status, seq });
          // The last stage reaching a terminal status finishes the job; confirm with the job view.
          if (terminal.has(status)) snapshot().catch(() => {});
        } else if (frame.type === "event") {
          queue.push({ type: "event", seq: frame.seq, kind: frame.kind, time: frame.time });
        }
      },
      onStatus: parameters.onStatus,
    },
    parameters.backoff,
  );
  if (parameters.signal?.aborted) finish();
  parameters.signal?.addEventListener("abort", finish, { once: true });
  return queue;
}
