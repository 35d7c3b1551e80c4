import { z } from "zod";
import { apiPaths, type Task, taskSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

const tasksSchema = z.strictObject({ tasks: z.array(taskSchema) });

export interface GetTasksParameters {
  /** The node's public key. */
  readonly node: PublicKeyHex | string;
}

/** Verification work the node owes now: checks, dispute rounds, referee steps. */
export type GetTasksReturnType = readonly Task[];

/** UNREACHABLE (coordinator not reachable); MALFORMED (schema); any ApiError code. */
export type GetTasksErrorType = SwitchyardError;

/**
 * A node's open verification tasks (docs/verification.md). The agent's verifier role polls it.
 *
 * @example
 * for (const t of await getTasks(client, { node: identity.publicKey })) console.log(t.kind, t.stage);
 */
export async function getTasks(client: Client, parameters: GetTasksParameters): Promise<GetTasksReturnType> {
  const body = await request(client, {
    method: "GET",
    path: apiPaths.tasks.replace(":key", encodeURIComponent(parameters.node)),
    endpoint: `GET ${apiPaths.tasks}`,
    schema: tasksSchema,
  });
  return body.tasks;
}
