/**
 * Canaries: checks whose answer the protocol already knows to be "mismatch", mixed in at a governed
 * rate. A verifier that approves one did not compute — it is slashed and ejected.
 *
 * Which checks are canaries cannot come from the public beacon: a verifier could evaluate it and
 * compute only on canaries. The canary schedule is keyed by a secret the coordinator commits to
 * (H(secret)) before the epoch and reveals after the epoch's verdicts, so anyone replaying the log
 * can then confirm every canary was chosen by the committed rule.
 */
import { utf8 } from "../../protocol/bytes.ts";
import { taggedHash } from "../../protocol/hash.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import { chancePpm } from "./beacon.ts";
import type { Verdict } from "./committee.ts";

/** Governed rate of canaries among checks: 5% catches a lazy verifier within 135 checks w.p. 0.999. */
export const defaultCanaryRatePpm = 50_000;

/** The commitment published before an epoch: H(secret). */
export function canarySecretCommitment(secret: Hex32): Hex32 {
  return taggedHash("canary-secret", utf8(secret));
}

/**
 * Whether the check of `stage` is a canary, from the epoch's secret.
 *
 * @example
 * isCanary(secret, "j7/train", defaultCanaryRatePpm);
 */
export function isCanary(secret: Hex32, stage: string, ratePpm: number): boolean {
  return chancePpm(taggedHash("canary", utf8(`${secret}/${stage}`)), ratePpm);
}

export type CanaryJudgement =
  | { readonly kind: "caught"; readonly slash: true; readonly eject: true }
  | { readonly kind: "passed"; readonly slash: false; readonly eject: false };

/** A canary's answer is always "mismatch"; approving it proves the verifier did not compute. */
export function judgeCanary(verdict: Verdict): CanaryJudgement {
  return verdict === "match"
    ? { kind: "caught", slash: true, eject: true }
    : { kind: "passed", slash: false, eject: false };
}
