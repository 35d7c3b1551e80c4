import { apiPaths, type Market, marketSchema } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

export type GetMarketReturnType = Market;

/** UNREACHABLE (coordinator not reachable); MALFORMED (schema); any ApiError code. */
export type GetMarketErrorType = SwitchyardError;

/**
 * The order book summarized per (resource class, region): offers, capacity, use, lowest and
 * median asking price; and the published price index per (class, region) with its utilization
 * reading and when it was last moved.
 *
 * @example
 * const { classes, priceIndex } = await getMarket(client);
 * for (const c of classes) console.log(c.resourceClass, c.region, c.minPrice);
 * for (const p of priceIndex) console.log(p.resourceClass, p.region, p.index, p.utilizationBps);
 */
export async function getMarket(client: Client): Promise<GetMarketReturnType> {
  return request(client, {
    method: "GET",
    path: apiPaths.market,
    endpoint: `GET ${apiPaths.market}`,
    schema: marketSchema,
  });
}
