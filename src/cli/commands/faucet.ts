/** `switchyard faucet [amount]`: mint test credits on a dev network. */
import { SwitchyardError } from "../../protocol/errors.ts";
import { formatCredits } from "../../protocol/money.ts";
import { signAndSubmit } from "../../sdk/index.ts";
import { cliClient, cliIdentity } from "../client.ts";
import type { Output } from "../output.ts";

export interface FaucetOptions {
  readonly coordinator: string;
  readonly key: string;
  /** Micro-credits, a decimal string. */
  readonly amount: string;
}

export async function faucet(options: FaucetOptions, out: Output): Promise<number> {
  if (!/^[1-9][0-9]{0,29}$/.test(options.amount)) {
    throw new SwitchyardError(
      "MALFORMED",
      `amount is micro-credits as a positive integer, e.g. 100000000 (= 100 credits); got ${options.amount}`,
    );
  }
  const identity = await cliIdentity(options.key);
  const { receipt } = await signAndSubmit(cliClient(options.coordinator), {
    identity,
    type: "faucet",
    body: { amount: options.amount },
  });
  out.result(
    { receipt, amount: options.amount },
    () =>
      `minted ${formatCredits(BigInt(options.amount))} credits to ${identity.publicKey} (seq ${receipt.seq})`,
  );
  return 0;
}
