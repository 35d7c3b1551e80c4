import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { marketTable } from "./market.ts";

const book = (resourceClass: string, region: string, minPrice: string) => ({
  resourceClass,
  region,
  offers: 2,
  capacity: 16,
  used: 4,
  minPrice,
  medianPrice: minPrice,
});
const index = (resourceClass: string, region: string, value: string, utilizationBps: number) => ({
  resourceClass,
  region,
  index: value,
  utilizationBps,
  updatedAt: 1_767_225_600_000,
});

describe("switchyard market table", () => {
  test("shows the index and its utilization beside the book of the same class and region, and the price per GB", () => {
    const text = marketTable({
      classes: [
        book("cpu", "Europe", "40"),
        { ...book("gpu", "Europe", "600"), minPricePerGigabyte: "5000" },
      ],
      priceIndex: [index("gpu", "Europe", "675", 2_500), index("cpu", "Europe", "40", 5)],
    });
    const lines = text.split("\n");
    assert.match(lines[0]!, /index µ\/u·s\s+util\s+min µ\/GB$/);
    assert.deepEqual(
      lines.slice(2).map((l) => l.split(/\s{2,}/)),
      [
        ["cpu", "Europe", "2", "16", "4", "40", "40", "40", "0.05 %", "-"],
        ["gpu", "Europe", "2", "16", "4", "600", "600", "675", "25.00 %", "5000"],
      ],
    );
  });

  test("a region with an index but no offers left, and one not yet indexed, each get a row", () => {
    const text = marketTable({
      classes: [book("gpu", "Europe", "600")],
      priceIndex: [index("gpu", "Asia", "520", 10_000)],
    });
    assert.deepEqual(
      text
        .split("\n")
        .slice(2)
        .map((l) => l.split(/\s{2,}/)),
      [
        ["gpu", "Asia", "0", "0", "0", "-", "-", "520", "100.00 %", "-"],
        ["gpu", "Europe", "2", "16", "4", "600", "600", "-", "-", "-"],
      ],
    );
  });

  test("an empty market says so", () => {
    assert.equal(marketTable({ classes: [], priceIndex: [] }), "no offers");
  });
});
