/** `switchyard market`: supply and prices per resource class and region. */
import { getMarket } from "../../sdk/index.ts";
import { cliClient } from "../client.ts";
import type { Output } from "../output.ts";
import { table } from "../table.ts";

export async function market(options: { readonly coordinator: string }, out: Output): Promise<number> {
  const m = await getMarket(cliClient(options.coordinator));
  out.result(m, () =>
    m.classes.length === 0
      ? "no offers"
      : table(
          ["class", "region", "offers", "capacity", "used", "min µ/u·s", "median µ/u·s"],
          m.classes.map((c) => [
            c.resourceClass,
            c.region,
            String(c.offers),
            String(c.capacity),
            String(c.used),
            c.minPrice,
            c.medianPrice,
          ]),
        ),
  );
  return 0;
}
