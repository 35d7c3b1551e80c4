/** `switchyard market`: supply, prices and the price index per resource class and region. */
import type { Market } from "../../protocol/api.ts";
import { getMarket } from "../../sdk/index.ts";
import { cliClient } from "../client.ts";
import type { Output } from "../output.ts";
import { table } from "../table.ts";

export async function market(options: { readonly coordinator: string }, out: Output): Promise<number> {
  const m = await getMarket(cliClient(options.coordinator));
  out.result(m, () => marketTable(m));
  return 0;
}

/** "12.50 %" from 1,250 bps, without floating point. */
function percent(bps: number): string {
  return `${Math.trunc(bps / 100)}.${String(bps % 100).padStart(2, "0")} %`;
}

/**
 * One row per (class, region) that has active offers or a published index: the book's columns
 * ("-" once its offers are gone) beside the index and the utilization it last read ("-" before the
 * first epoch). Rows in the API's order: class, then region.
 *
 * @example
 * marketTable({ classes: [], priceIndex: [] }) // "no offers"
 */
export function marketTable(m: Market): string {
  const rows = new Map<string, { book?: Market["classes"][number]; index?: Market["priceIndex"][number] }>();
  const key = (c: { resourceClass: string; region: string }) => `${c.resourceClass}\u0000${c.region}`;
  for (const book of m.classes) rows.set(key(book), { book });
  for (const index of m.priceIndex) rows.set(key(index), { ...rows.get(key(index)), index });
  if (rows.size === 0) return "no offers";
  const sorted = [...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return table(
    [
      "class",
      "region",
      "offers",
      "capacity",
      "used",
      "min µ/u·s",
      "median µ/u·s",
      "index µ/u·s",
      "util",
      "min µ/GB",
    ],
    sorted.map(([, { book, index }]) => {
      const where = book ?? index!;
      return [
        where.resourceClass,
        where.region,
        String(book?.offers ?? 0),
        String(book?.capacity ?? 0),
        String(book?.used ?? 0),
        book?.minPrice ?? "-",
        book?.medianPrice ?? "-",
        index?.index ?? "-",
        index === undefined ? "-" : percent(index.utilizationBps),
        // Egress (or, for relays, forwarding) per 10^9 bytes, once an offer of the group set one.
        book?.minPricePerGigabyte ?? "-",
      ];
    }),
  );
}
