import { apiPaths, type Status, statusSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

export type GetStatusReturnType = Status;

/**
 * UNREACHABLE when the coordinator cannot be reached. MALFORMED
 * when its answer does not match the API schema; any ApiError code it returns.
 */
export type GetStatusErrorType = SwitchyardError;

/**
 * The coordinator's status: network id, head of the log, sequencer time, state hash, parameters,
 * store kind and whether it holds the sequencer lead. Also caches the network id on the client.
 *
 * @example
 * const client = createClient({ url: "http://127.0.0.1:7700" });
 * const { net, seq, leader } = await getStatus(client);
 */
export async function getStatus(client: Client): Promise<GetStatusReturnType> {
  const status = await request(client, {
    method: "GET",
    path: apiPaths.status,
    endpoint: `GET ${apiPaths.status}`,
    schema: statusSchema,
  });
  client.internals.net = status.net;
  return status;
}
