import { z } from "zod";
import { apiPaths } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { decodeLogEvent, type StoredEvent, verifyChain } from "../protocol/log.ts";
import type { Client } from "./create-client.ts";
import { networkId } from "./internal/network-id.ts";
import { request } from "./internal/request.ts";

// Each event is decoded with the protocol's own decoder below; here only the envelope of the page.
const eventsSchema = z.strictObject({
  events: z.array(z.looseObject({ hash: z.string() })),
});

export interface GetEventsParameters {
  /** First sequence number (default 0, the genesis event). */
  readonly from?: number;
  /** At most this many events (the coordinator caps it at 1,000). */
  readonly limit?: number;
}

/** Consecutive decoded events, each with its hash; empty past the head. */
export type GetEventsReturnType = readonly StoredEvent[];

/**
 * MALFORMED when an event does not decode; CHAIN_BROKEN when the page is not a hash chain (an
 * event altered, missing or out of order); UNREACHABLE (coordinator not reachable); any ApiError code.
 */
export type GetEventsErrorType = SwitchyardError;

/**
 * A page of the log from `from`, decoded and checked as a chain: every event hashes to its `hash`
 * and points at its predecessor's. For followers and audits; a whole-log audit also checks the
 * page boundaries (pass the last page's final hash to `verifyChain`).
 *
 * @example
 * let from = 0;
 * for (;;) {
 *   const page = await getEvents(client, { from, limit: 1000 });
 *   if (page.length === 0) break;
 *   from = page[page.length - 1]!.seq + 1;
 * }
 */
export async function getEvents(
  client: Client,
  parameters: GetEventsParameters = {},
): Promise<GetEventsReturnType> {
  const net = await networkId(client);
  const body = await request(client, {
    method: "GET",
    path: apiPaths.events,
    endpoint: `GET ${apiPaths.events}`,
    query: { from: parameters.from ?? 0, limit: parameters.limit },
    schema: eventsSchema,
  });
  const events: StoredEvent[] = body.events.map(({ hash, ...wire }) => {
    const decoded = decodeLogEvent(wire, net);
    return { ...decoded, hash: hash as Hex32 };
  });
  const first = events[0];
  if (first !== undefined) {
    if (parameters.from !== undefined && first.seq !== parameters.from) {
      throw new SwitchyardError(
        "CHAIN_BROKEN",
        `asked for events from ${parameters.from}, got ${first.seq}`,
        {
          details: { seq: parameters.from },
        },
      );
    }
    verifyChain(events, first.prev, first.seq - 1);
  }
  return events;
}
