/**
 * The Switchyard SDK: a typed client for requesters and providers, one action per file. Isomorphic:
 * it imports only src/protocol and uses the global fetch and WebSocket (or ones passed in).
 *
 * @example
 * import { createClient, getStatus, submitJob, watchJob } from "./index.ts";
 * const client = createClient({ url: "http://127.0.0.1:7700" });
 * const { jobId } = await submitJob(client, { identity, spec });
 * for await (const u of watchJob(client, { id: jobId })) console.log(u);
 */
export * from "./create-client.ts";
export * from "./get-account.ts";
export * from "./get-assignments.ts";
export * from "./get-events.ts";
export * from "./get-job.ts";
export * from "./get-market.ts";
export * from "./get-nodes.ts";
export * from "./get-rtt.ts";
export * from "./get-status.ts";
export * from "./get-tasks.ts";
export { isUnreachable } from "./internal/request.ts";
export type { Backoff, StreamStatus } from "./internal/stream.ts";
export * from "./list-jobs.ts";
export * from "./sign-and-submit.ts";
export * from "./submit-envelope.ts";
export * from "./submit-job.ts";
export * from "./subscribe-assignments.ts";
export * from "./verify-receipt.ts";
export * from "./watch-job.ts";
