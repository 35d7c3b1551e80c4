/** `switchyard nodes`: registered providers, where they are and what they offer. */
import { formatCredits } from "../../protocol/money.ts";
import { getNodes } from "../../sdk/index.ts";
import { cliClient } from "../client.ts";
import type { Output } from "../output.ts";
import { table } from "../table.ts";

export async function nodes(options: { readonly coordinator: string }, out: Output): Promise<number> {
  const list = await getNodes(cliClient(options.coordinator));
  out.result(list, () =>
    list.length === 0
      ? "no nodes registered"
      : table(
          ["node", "city", "jurisdictions", "class", "capacity", "used", "price µ/u·s", "stake", "open"],
          list.map((n) => [
            n.name,
            n.city,
            n.jurisdictions.join(","),
            n.resourceClass,
            String(n.capacity),
            String(n.offers.reduce((u, o) => u + o.used, 0)),
            n.offers
              .filter((o) => o.active)
              .map((o) => o.pricePerUnitSecond)
              .join(",") || "-",
            formatCredits(BigInt(n.stake)),
            String(n.openStages),
          ]),
        ),
  );
  return 0;
}
