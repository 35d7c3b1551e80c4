import { apiPaths, type RttPredictionView, rttPredictionSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

export interface GetRttParameters {
  /** Public key of one node. */
  readonly from: PublicKeyHex | string;
  /** Public key of the other node. */
  readonly to: PublicKeyHex | string;
}

export type GetRttReturnType = RttPredictionView;

/** UNKNOWN_NODE (either end not registered) / MALFORMED (not a key) from the coordinator; UNREACHABLE. */
export type GetRttErrorType = SwitchyardError;

/**
 * The coordinator's predicted round trip between two registered nodes, in whole ms: from the
 * network coordinates their agents measured and reported (`source: "coordinates"`, with the worse of
 * the two error estimates in ppm), or from geography while either has not reported (`"geo"`).
 *
 * @example
 * const { rttMs, source } = await getRtt(client, { from: frankfurtKey, to: singaporeKey });
 */
export async function getRtt(client: Client, parameters: GetRttParameters): Promise<GetRttReturnType> {
  return request(client, {
    method: "GET",
    path: apiPaths.rtt,
    endpoint: `GET ${apiPaths.rtt}`,
    query: { from: parameters.from, to: parameters.to },
    schema: rttPredictionSchema,
  });
}
