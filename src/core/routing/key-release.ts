/**
 * Who may hold the key to a stage's data (DESIGN.md §4: "the key is released only to providers
 * inside the allowed jurisdictions — relays carry ciphertext"). The data of a stage is its output,
 * sealed under the stage key (protocol/job-crypto.node.ts); it is read by the stage's own provider
 * (who seals it) and by the providers of the stages that take it as input. Each of them receives
 * the key only if its node is inside one of the stage's allowed jurisdictions. A relay never does,
 * whatever its jurisdiction: it forwards ciphertext, and holding the key would let a party outside
 * the placement read data it was never placed to compute on.
 *
 * Pure and total over its input: the decision depends only on the stage's jurisdictions, the
 * node's registered jurisdictions and class, and the role the node plays.
 */
import { SwitchyardError } from "../../protocol/errors.ts";

/** The part of a node record the rule reads (core/state.ts `NodeRecord` fits). */
export interface KeyCandidate {
  readonly id: string;
  /** Where the node is: its country and blocs, as registered (["DE", "EU"]). */
  readonly jurisdictions: readonly string[];
  readonly resourceClass: string;
}

/** Why a node does or does not get a stage key. */
export type KeyReleaseReason =
  /** The stage allows any jurisdiction (absent or empty list). */
  | "unrestricted"
  /** The node holds one of the stage's jurisdictions. */
  | "inside-jurisdictions"
  /** The node holds none of them. */
  | "outside-jurisdictions"
  /** The node is a relay (by role on this path, or registered as resource class `relay`). */
  | "relay";

export interface KeyReleaseDecision {
  readonly release: boolean;
  readonly reason: KeyReleaseReason;
}

/** How a node takes part in moving one stage's data. */
export type KeyRole = "producer" | "reader" | "relay";

/**
 * Whether `node`, in `role`, may receive the key of a stage whose data may stay only in `allowed`
 * (absent or empty: anywhere). A relay never may.
 *
 * @example
 * keyReleaseDecision(["EU"], { id: "n1", jurisdictions: ["DE", "EU"], resourceClass: "gpu" }, "reader")
 * // { release: true, reason: "inside-jurisdictions" }
 */
export function keyReleaseDecision(
  allowed: readonly string[] | undefined,
  node: KeyCandidate,
  role: KeyRole,
): KeyReleaseDecision {
  if (role === "relay" || node.resourceClass === "relay") return { release: false, reason: "relay" };
  if (allowed === undefined || allowed.length === 0) return { release: true, reason: "unrestricted" };
  return allowed.some((j) => node.jurisdictions.includes(j))
    ? { release: true, reason: "inside-jurisdictions" }
    : { release: false, reason: "outside-jurisdictions" };
}

/** A stage as the rule needs it (a placed `StageSpec` fits, with its provider's node record). */
export interface KeyReleaseStage {
  readonly name: string;
  /** Where this stage's data may be read in plaintext; absent or empty: anywhere. */
  readonly jurisdictions?: readonly string[] | undefined;
  /** Stages whose output this stage reads. */
  readonly after: readonly string[];
  /** The node placed on this stage; absent while unplaced (it then gets nothing). */
  readonly provider?: KeyCandidate | undefined;
}

export interface KeyRefusal {
  readonly node: string;
  readonly role: KeyRole;
  readonly reason: KeyReleaseReason;
}

/** The release of one stage's key. */
export interface StageKeyRelease {
  readonly stage: string;
  /** Node ids that receive the key: the producer, then the readers in stage order, each once. */
  readonly recipients: readonly string[];
  /** Participants that do not: readers outside the jurisdictions (a placement that would move the
   * data out of them), and every relay. */
  readonly refused: readonly KeyRefusal[];
}

export interface KeyReleaseInput {
  /** In any order; `after` names other stages of the same list. */
  readonly stages: readonly KeyReleaseStage[];
  /** Relays that may carry the pipeline's data. */
  readonly relays: readonly KeyCandidate[];
}

/**
 * For every stage, in input order, which participants receive its key and which are refused.
 *
 * @throws SwitchyardError INVALID_JOB on duplicate stage names or an `after` naming no stage.
 * @example
 * planKeyRelease({ stages: [train, evaluate], relays: [zurichRelay] })
 * // [{ stage: "train", recipients: [fra, par], refused: [{ node: zrh, role: "relay", reason: "relay" }] }, …]
 */
export function planKeyRelease(input: KeyReleaseInput): StageKeyRelease[] {
  const byName = new Map<string, KeyReleaseStage>();
  for (const s of input.stages) {
    if (byName.has(s.name)) throw new SwitchyardError("INVALID_JOB", `duplicate stage name "${s.name}"`);
    byName.set(s.name, s);
  }
  const readers = new Map<string, KeyCandidate[]>();
  for (const s of input.stages) {
    for (const dep of s.after) {
      if (!byName.has(dep)) {
        throw new SwitchyardError("INVALID_JOB", `stage ${s.name} reads "${dep}", which is not a stage`);
      }
      if (s.provider !== undefined) readers.set(dep, [...(readers.get(dep) ?? []), s.provider]);
    }
  }
  return input.stages.map((s) => {
    const recipients: string[] = [];
    const refused: KeyRefusal[] = [];
    const consider = (node: KeyCandidate, role: KeyRole) => {
      const decision = keyReleaseDecision(s.jurisdictions, node, role);
      if (!decision.release) refused.push({ node: node.id, role, reason: decision.reason });
      else if (!recipients.includes(node.id)) recipients.push(node.id);
    };
    if (s.provider !== undefined) consider(s.provider, "producer");
    for (const reader of readers.get(s.name) ?? []) consider(reader, "reader");
    for (const relay of input.relays) consider(relay, "relay");
    // A node refused in one role never holds the key through another: a relay that also runs a
    // stage of this pipeline is still a relay on this data's path.
    const denied = new Set(refused.filter((r) => r.reason === "relay").map((r) => r.node));
    return { stage: s.name, recipients: recipients.filter((id) => !denied.has(id)), refused };
  });
}
