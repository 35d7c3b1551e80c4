/** `switchyard balance [key]`: available, staked and unbonding credits of an identity. */
import { formatCredits } from "../../protocol/money.ts";
import { getAccount } from "../../sdk/index.ts";
import { cliClient, cliIdentity } from "../client.ts";
import type { Output } from "../output.ts";

export interface BalanceOptions {
  readonly coordinator: string;
  /** A public key; default the identity in the key file. */
  readonly account?: string;
  readonly key: string;
}

export async function balance(options: BalanceOptions, out: Output): Promise<number> {
  const key = options.account ?? (await cliIdentity(options.key)).publicKey;
  const a = await getAccount(cliClient(options.coordinator), { key });
  out.result(a, () =>
    [
      `account   ${a.key}`,
      `available ${formatCredits(BigInt(a.available))}`,
      `staked    ${formatCredits(BigInt(a.staked))}`,
      `unbonding ${formatCredits(BigInt(a.unbonding))}`,
      `nonce     ${a.nonce}`,
    ].join("\n"),
  );
  return 0;
}
