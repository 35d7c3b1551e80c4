import { type Account, accountSchema, apiPaths } from "../protocol/api.ts";
import type { SwitchyardError } from "../protocol/errors.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { Client } from "./create-client.ts";
import { request } from "./internal/request.ts";

export interface GetAccountParameters {
  /** The identity's hex public key. */
  readonly key: PublicKeyHex | string;
}

export type GetAccountReturnType = Account;

/** UNKNOWN_ACCOUNT / MALFORMED from the coordinator; UNREACHABLE (coordinator not reachable); MALFORMED (schema). */
export type GetAccountErrorType = SwitchyardError;

/**
 * Balances (available, staked, unbonding, as decimal micro-credit strings) and the last accepted
 * nonce of an identity.
 *
 * @example
 * const account = await getAccount(client, { key: identity.publicKey });
 * console.log(BigInt(account.available), account.nonce);
 */
export async function getAccount(
  client: Client,
  parameters: GetAccountParameters,
): Promise<GetAccountReturnType> {
  return request(client, {
    method: "GET",
    path: apiPaths.account.replace(":key", encodeURIComponent(parameters.key)),
    endpoint: `GET ${apiPaths.account}`,
    schema: accountSchema,
  });
}
