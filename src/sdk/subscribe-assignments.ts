import type { Assignment } from "../protocol/api.ts";
import { canonicalize } from "../protocol/canonical.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { getAssignments } from "./get-assignments.ts";
import { asyncQueue } from "./internal/async-queue.ts";
import { type Backoff, openStream, type StreamStatus } from "./internal/stream.ts";

export interface SubscribeAssignmentsParameters {
  /** The provider's public key (its node id). */
  readonly provider: PublicKeyHex | string;
  /** Ends the iteration and closes the socket when aborted. */
  readonly signal?: AbortSignal;
  readonly backoff?: Backoff;
  /** Connection changes and non-fatal errors (a failed catch-up, a malformed frame). */
  readonly onStatus?: (status: StreamStatus) => void;
}

/** Assignments as they are sequenced, and the open ones again after every reconnect. */
export type SubscribeAssignmentsReturnType = AsyncIterableIterator<Assignment>;

/** MALFORMED when the client has no WebSocket implementation (thrown at once, not from the iterator). */
export type SubscribeAssignmentsErrorType = SwitchyardError;

/** How many delivered assignments one connection remembers to drop exact repeats. */
const rememberedAssignments = 10_000;

/**
 * Subscribes to a provider's assignments on /v1/stream?provider=<pk>. The socket reconnects with
 * backoff, and after every (re)connect the provider's open assignments are fetched again (GET
 * /v1/providers/:key/assignments), so an assignment sequenced while the socket was down — or the
 * coordinator was restarting — is delivered anyway. Within one connection an assignment identical
 * to one already delivered is dropped (the coordinator's greeting and the catch-up overlap); after a
 * reconnect every open assignment is delivered once more, because work begun before the restart —
 * a commit the coordinator never acknowledged, say — may have to be resumed. The same stage also
 * comes again with another status or deadline (started, or reassigned after a timeout), so
 * consumers key their work by (jobId, stage) and make handling it idempotent.
 * The iteration never ends by itself: abort `signal` or break out of the loop.
 *
 * @example
 * const controller = new AbortController();
 * for await (const a of subscribeAssignments(client, { provider: me.publicKey, signal: controller.signal })) {
 *   console.log(`assigned ${a.stage} of job ${a.jobId} (${a.program})`);
 * }
 */
export function subscribeAssignments(
  client: Client,
  parameters: SubscribeAssignmentsParameters,
): SubscribeAssignmentsReturnType {
  const seen = new Set<string>();
  const deliver = (assignment: Assignment) => {
    const key = canonicalize(assignment);
    if (seen.has(key)) return;
    seen.add(key);
    if (seen.size > rememberedAssignments) seen.delete(seen.values().next().value!);
    queue.push(assignment);
  };
  const queue = asyncQueue<Assignment>(() => handle.stop());
  const handle = openStream(
    client,
    { provider: parameters.provider },
    {
      async onOpen() {
        seen.clear();
        for (const a of await getAssignments(client, { provider: parameters.provider })) deliver(a);
      },
      onFrame(frame) {
        if (frame.type === "assignment" && frame.assignment.provider === parameters.provider) {
          deliver(frame.assignment);
        }
      },
      onStatus: parameters.onStatus,
    },
    parameters.backoff,
  );
  const stop = () => {
    handle.stop();
    queue.end();
  };
  if (parameters.signal?.aborted) stop();
  parameters.signal?.addEventListener("abort", stop, { once: true });
  return queue;
}
