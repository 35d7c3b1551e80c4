/** How a `--store` value is shown to people: never print a password from a URL. */
import { resolve } from "node:path";

export function describeStoreSpec(spec: string): string {
  if (/^postgres(ql)?:\/\//.test(spec)) return spec.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
  if (spec === "memory") return "memory (not durable)";
  return `PGlite at ${resolve(spec)}`;
}
