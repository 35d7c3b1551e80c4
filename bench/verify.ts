/**
 * Signature throughput: how many messages per second a coordinator can admit. Both Ed25519
 * adapters are measured in the same run, so the node:crypto figure has the portable noble one as its
 * baseline, and the full per-message cost has raw verification as its baseline. Lines:
 *
 *   {bench: "core", metric: "verify_per_s" | "sign_per_s", value, unit: "ops/s", impl}
 *   {bench: "core", metric: "envelope_verify_per_s", value, unit: "ops/s", impl}
 *   {bench: "core", metric: "verify_speedup", value, unit: "ratio", impl: "node", baseline: "noble"}
 *   {bench: "core", metric: "envelope_verify_share", value, unit: "ratio", impl, baseline: "verify_per_s"}
 *
 * with impl ∈ {node, noble}. `envelope_verify_per_s` is decodeEnvelope + verifyEnvelope of a
 * transfer from its parsed wire form (schema validation, canonical signing bytes, signature); JSON
 * parsing of the request body is not included. Keys rotate over a small set of identities, as a busy
 * coordinator sees repeat signers, so node's key cache is warm as it would be in production.
 * Each figure is the median of five timed batches, each long enough to dwarf timer noise.
 */

import { nobleEd25519 } from "../src/protocol/ed25519.noble.ts";
import { nodeEd25519 } from "../src/protocol/ed25519.node.ts";
import type { Ed25519 } from "../src/protocol/ed25519.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  identityFromSecret,
  signEnvelope,
  verifyEnvelope,
} from "../src/protocol/envelope.ts";
import { SwitchyardError } from "../src/protocol/errors.ts";
import { type BenchSuite, opsPerSecond } from "./lib.ts";

const net = "bench";
const identities = 16;
/** About the size of an envelope's signing bytes, so hashing the message costs what it does live. */
const messageBytes = 220;
const batchSeconds = 0.25;
const runs = 5;

/** Median ops/s of `fn` over `runs` batches sized so that one batch takes about `batchSeconds`. */
function measure(fn: (i: number) => void): number {
  let n = 16;
  // Calibrate (this also warms up the JIT and the key caches).
  while (n / opsPerSecond(n, fn, 0) < batchSeconds) n *= 2;
  const rates = Array.from({ length: runs }, () => opsPerSecond(n, fn, 0)).sort((a, b) => a - b);
  return rates[runs >> 1]!;
}

function fixtures(ed: Ed25519) {
  const secrets = Array.from({ length: identities }, (_, i) => new Uint8Array(32).fill(i + 1));
  const publicKeys = secrets.map((s) => ed.publicKey(s));
  const messages = secrets.map((_, i) => new Uint8Array(messageBytes).fill(i * 7 + 3));
  const signatures = secrets.map((s, i) => ed.sign(s, messages[i]!));
  const wires = secrets.map((s, i) => {
    const who = identityFromSecret(ed, s);
    const to = identityFromSecret(ed, secrets[(i + 1) % identities]!).publicKey;
    return encodeEnvelope(signEnvelope(ed, who, net, BigInt(i + 1), "transfer", { to, amount: 1_500_000n }));
  });
  return { secrets, publicKeys, messages, signatures, wires };
}

export const verifySuite: BenchSuite = async (log) => {
  const raw = new Map<string, number>();
  for (const ed of [nodeEd25519, nobleEd25519]) {
    const f = fixtures(ed);
    const k = (i: number) => i % identities;
    // A benchmark of a verifier that fails would measure the wrong path; refuse to report it.
    if (!f.publicKeys.every((pub, i) => ed.verify(pub, f.messages[i]!, f.signatures[i]!))) {
      throw new SwitchyardError("INVARIANT_VIOLATED", `${ed.name} does not verify its own signatures`);
    }

    const verifyRate = measure((i) => {
      ed.verify(f.publicKeys[k(i)]!, f.messages[k(i)]!, f.signatures[k(i)]!);
    });
    raw.set(ed.name, verifyRate);
    log({
      bench: "core",
      metric: "verify_per_s",
      value: Math.round(verifyRate),
      unit: "ops/s",
      impl: ed.name,
    });

    const signRate = measure((i) => {
      ed.sign(f.secrets[k(i)]!, f.messages[k(i)]!);
    });
    log({ bench: "core", metric: "sign_per_s", value: Math.round(signRate), unit: "ops/s", impl: ed.name });

    const envelopeRate = measure((i) => {
      verifyEnvelope(ed, decodeEnvelope(f.wires[k(i)], net));
    });
    log({
      bench: "core",
      metric: "envelope_verify_per_s",
      value: Math.round(envelopeRate),
      unit: "ops/s",
      impl: ed.name,
    });
    log({
      bench: "core",
      metric: "envelope_verify_share",
      value: Number((envelopeRate / verifyRate).toFixed(3)),
      unit: "ratio",
      impl: ed.name,
      baseline: "verify_per_s",
    });
  }
  log({
    bench: "core",
    metric: "verify_speedup",
    value: Number(((raw.get("node") ?? 0) / (raw.get("noble") ?? 1)).toFixed(2)),
    unit: "ratio",
    impl: "node",
    baseline: "noble",
  });
};
