import { z } from "zod";
import { apiPaths, type NodeView, nodeViewSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

const nodesSchema = z.strictObject({ nodes: z.array(nodeViewSchema) });

export type GetNodesReturnType = readonly NodeView[];

/** UNREACHABLE (coordinator not reachable); MALFORMED (schema); any ApiError code. */
export type GetNodesErrorType = SwitchyardError;

/**
 * Every registered node with its location, class, benchmark throughput, blob endpoint, stake,
 * open stages, offers and when its agent was last seen.
 *
 * @example
 * const nodes = await getNodes(client);
 * const mine = nodes.find((n) => n.id === identity.publicKey);
 */
export async function getNodes(client: Client): Promise<GetNodesReturnType> {
  const body = await request(client, {
    method: "GET",
    path: apiPaths.nodes,
    endpoint: `GET ${apiPaths.nodes}`,
    schema: nodesSchema,
  });
  return body.nodes;
}
