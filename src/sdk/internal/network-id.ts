import type { Client } from "../create-client.ts";
import { getStatus } from "../get-status.ts";

/** The coordinator's network id, fetched once per client (GET /v1/status) and cached. */
export async function networkId(client: Client): Promise<string> {
  return client.internals.net ?? (await getStatus(client)).net;
}
