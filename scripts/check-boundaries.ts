/**
 * Enforces the import boundaries of DESIGN.md §3 and the determinism rules of src/core and the
 * verified kernels of src/runtime. Biome checks globals (Date, timers, process); this script checks
 * what Biome cannot express: which layer may import which, and forbidden member calls such as
 * Math.random. Exit code 1 lists every violation with file:line.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const root = resolve(import.meta.dirname, "..");
const src = join(root, "src");

/** Which of our layers each layer may import (itself is always allowed). */
const allowed: Record<string, readonly string[]> = {
  protocol: [],
  core: ["protocol"],
  runtime: ["protocol"],
  store: ["core", "runtime", "protocol"],
  coordinator: ["core", "runtime", "protocol", "store"],
  // The provider agent talks to the coordinator through the SDK, the one typed client of the API.
  agent: ["core", "runtime", "protocol", "store", "sdk"],
  sim: ["core", "runtime", "protocol", "store"],
  sdk: ["protocol"],
  cli: ["core", "runtime", "protocol", "store", "coordinator", "agent", "sim", "sdk"],
};

/** Node built-ins the isomorphic or pure layers must not touch. */
const pureLayers = new Set(["core"]);
const isomorphicLayers = new Set(["protocol", "core", "sdk"]);

const forbiddenInCore: Array<[RegExp, string]> = [
  [/\bMath\.random\b/, "Math.random: randomness comes from the beacon in the log"],
  [/\bDate\b/, "Date: time comes from event.time"],
  [
    /\bMath\.(exp|log|log2|log10|pow|sin|cos|tan|atan|atan2|sinh|cosh|tanh|expm1|log1p|cbrt|hypot)\b/,
    "engine-dependent math",
  ],
  [/\b(setTimeout|setInterval|setImmediate)\b/, "timers: deadlines are system events"],
];
const forbiddenInKernels: Array<[RegExp, string]> = [
  [
    /\bMath\.(exp|log|log2|log10|pow|sin|cos|tan|atan|atan2|sinh|cosh|tanh|expm1|log1p|cbrt|hypot|random)\b/,
    "engine-dependent math in verified computation: use runtime/kernels/elementary.ts",
  ],
];

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith(".ts")) yield p;
  }
}

const violations: string[] = [];
const importRe =
  /(?:^|\s)(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

for (const file of walk(src)) {
  const rel = relative(src, file);
  const layer = rel.split(sep)[0] ?? "";
  const isTest = file.endsWith(".test.ts");
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const lineOf = (index: number) => text.slice(0, index).split("\n").length;

  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? "";
    const at = `src/${rel}:${lineOf(m.index ?? 0)}`;
    if (spec.startsWith(".")) {
      const target = relative(src, resolve(dirname(file), spec));
      if (target.startsWith("..")) continue;
      const targetLayer = target.split(sep)[0] ?? "";
      if (targetLayer !== layer && !isTest && !(allowed[layer] ?? []).includes(targetLayer)) {
        violations.push(
          `${at}: layer '${layer}' may not import '${targetLayer}' (${spec}); see DESIGN.md §3`,
        );
      }
    } else if (spec.startsWith("node:") && !isTest && !file.endsWith(".node.ts")) {
      // Files named *.node.ts are the Node-only adapters of an isomorphic port (e.g. the
      // node:crypto signer); the browser build swaps them for their portable twins.
      if (pureLayers.has(layer)) violations.push(`${at}: src/${layer} is pure and may not import ${spec}`);
      else if (isomorphicLayers.has(layer)) {
        violations.push(`${at}: src/${layer} runs in the browser too and may not import ${spec}`);
      }
    }
  }
  if (isTest) continue;
  const rules =
    layer === "core" ? forbiddenInCore : rel.startsWith(`runtime${sep}kernels`) ? forbiddenInKernels : [];
  lines.forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, "");
    if (/^\s*(\*|\/\*)/.test(code)) return;
    for (const [re, why] of rules) {
      if (re.test(code)) violations.push(`src/${rel}:${i + 1}: ${why}`);
    }
  });
}

if (violations.length > 0) {
  console.error(`check-boundaries: ${violations.length} violation(s)`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log("check-boundaries: layer imports and determinism rules hold");
