/**
 * `npm run bench -- <suite>`: runs a benchmark suite, prints JSON lines, and appends them with the
 * commit id to bench/results/<suite>.jsonl. `npm run bench -- --list` names the suites.
 */
import { appendSuite } from "./append.ts";
import { applySuite } from "./apply.ts";
import { coordinatorSuite } from "./coordinator.ts";
import { type BenchSuite, runSuite } from "./lib.ts";
import { marketSuite } from "./market.ts";
import { matmulSuite } from "./matmul.ts";
import { routingSuite } from "./routing.ts";
import { verificationSuite } from "./verification.ts";
import { verifySuite } from "./verify.ts";

const suites: Record<string, readonly BenchSuite[]> = {
  core: [applySuite, appendSuite, verifySuite, matmulSuite],
  coordinator: [coordinatorSuite],
  verification: [verificationSuite],
  routing: [routingSuite],
  market: [marketSuite],
};

const name = process.argv[2];
if (name === undefined || name === "--list" || !(name in suites)) {
  const known = Object.keys(suites).join(", ");
  if (name !== undefined && name !== "--list") console.error(`unknown benchmark suite '${name}'`);
  console.error(`usage: npm run bench -- <suite>   (suites: ${known})`);
  process.exit(name === "--list" ? 0 : 2);
}
for (const suite of suites[name]!) await runSuite(name, suite);
