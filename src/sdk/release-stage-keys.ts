/**
 * The requester's side of key release (docs/routing.md "Key release in the live network"): for each
 * restricted stage of its job (submitted with `sealed: true`) (one with `jurisdictions`), hand the stage key to the nodes that must
 * read the stage's sealed states — its provider, and the verifier or referee drawn for it — with one
 * signed `releaseKey` each, the key sealed to that node. The core refuses a recipient outside the
 * stage's jurisdictions or a relay (NOT_AUTHORIZED); the refusal is reported, not thrown.
 *
 * Node-only (it seals with node:crypto), so it is not re-exported from the isomorphic sdk index:
 * import it from this file.
 */
import type { JobView } from "../protocol/api.ts";
import type { Identity } from "../protocol/envelope.ts";
import { isSwitchyardError, type SwitchyardError } from "../protocol/errors.ts";
import type { JobId } from "../protocol/ids.ts";
import { type JobKey, outputSealName, stageKey } from "../protocol/job-crypto.node.ts";
import { sealStageKeyTo } from "../protocol/key-wrap.node.ts";
import type { Client } from "./create-client.ts";
import { getJob } from "./get-job.ts";
import { signAndSubmit } from "./sign-and-submit.ts";

export interface ReleaseStageKeysParameters {
  /** The job's requester: the only signer the core accepts. */
  readonly identity: Identity;
  readonly jobId: JobId | string;
  /** The job key every stage key derives from (job-crypto.node.ts); it never leaves this process. */
  readonly jobKey: JobKey;
  /** Keep releasing, every `intervalMs`, until the job finishes or `signal` aborts. Absent: one pass. */
  readonly watch?: { readonly intervalMs: number; readonly signal?: AbortSignal };
}

export interface KeyReleaseOutcome {
  readonly stage: string;
  readonly to: string;
  /** `output`: the stage's output key; absent: its stage key. */
  readonly purpose?: "output";
}

export interface ReleaseStageKeysReturnType {
  readonly released: readonly KeyReleaseOutcome[];
  /** Recipients the core refused, with its error code (NOT_AUTHORIZED: outside, or a relay). */
  readonly refused: readonly (KeyReleaseOutcome & { readonly code: string; readonly message: string })[];
}

/** UNKNOWN_JOB, UNREACHABLE; refusals of single recipients are returned in `refused`. */
export type ReleaseStageKeysErrorType = SwitchyardError;

/**
 * Release the keys of every restricted stage of a job to the nodes that need them now; with
 * `watch`, keep doing so as providers are placed and verifiers drawn, until the job finishes.
 *
 * @example
 * const jobKey = generateJobKey();
 * const { jobId } = await submitJob(client, { identity, spec });
 * void releaseStageKeys(client, { identity, jobId, jobKey, watch: { intervalMs: 100, signal } });
 */
export async function releaseStageKeys(
  client: Client,
  parameters: ReleaseStageKeysParameters,
): Promise<ReleaseStageKeysReturnType> {
  const released: KeyReleaseOutcome[] = [];
  const refused: ReleaseStageKeysReturnType["refused"][number][] = [];
  const tried = new Set<string>();
  const { watch } = parameters;
  for (;;) {
    const job = await getJob(client, { id: parameters.jobId });
    for (const { stage, to, purpose } of [...keysOwed(job), ...outputKeysOwed(job)]) {
      const id = `${stage}/${purpose ?? "states"}/${to}`;
      if (tried.has(id)) continue;
      tried.add(id);
      // An output key is the stage key of `<name>#output`, sealed to the recipient under that name.
      const bound = purpose === "output" ? outputSealName(stage) : stage;
      const key = stageKey(parameters.jobKey, job.id as JobId, bound);
      const owed = { stage, to, ...(purpose === undefined ? {} : { purpose }) };
      try {
        await signAndSubmit(client, {
          identity: parameters.identity,
          type: "releaseKey",
          body: {
            jobId: job.id,
            stage,
            to,
            sealed: sealStageKeyTo(to, key, { jobId: job.id, stage: bound }),
            ...(purpose === undefined ? {} : { purpose }),
          },
        });
        released.push(owed);
      } catch (error) {
        if (!isSwitchyardError(error) || error.code === "UNREACHABLE") throw error;
        refused.push({ ...owed, code: error.code, message: error.message });
      }
    }
    if (watch === undefined || job.status === "finished" || watch.signal?.aborted) break;
    await new Promise((resolve) => setTimeout(resolve, watch.intervalMs));
  }
  return { released, refused };
}

const reading = new Set(["matched", "running", "committed"]);

/** Who must read each restricted stage's states now and does not yet hold its key. */
function keysOwed(job: JobView): KeyReleaseOutcome[] {
  const out: KeyReleaseOutcome[] = [];
  if (job.sealed !== true) return out;
  for (const s of job.stages) {
    if ((s.jurisdictions?.length ?? 0) === 0) continue;
    const holders = new Set((s.keys ?? []).map((k) => k.to));
    const readers = [reading.has(s.status) ? s.provider : undefined, s.check?.verifier, s.check?.referee];
    for (const to of readers) {
      if (to !== undefined && !holders.has(to)) {
        holders.add(to);
        out.push({ stage: s.name, to });
      }
    }
  }
  return out;
}

/**
 * Who must read each stage's sealed output now and does not yet hold its output key: the stage's
 * own provider (it seals the output), and the provider, verifier and referee of every stage that
 * runs after it (they open it as an input). Recorded on the spec's stage, not on its replicas: k
 * agreeing replicas seal to the same bytes under the one output key (job-crypto.node.ts).
 */
function outputKeysOwed(job: JobView): KeyReleaseOutcome[] {
  const out: KeyReleaseOutcome[] = [];
  if (job.sealed !== true) return out;
  const byName = new Map(job.stages.map((s) => [s.name, s]));
  const holders = new Map(job.stages.map((s) => [s.name, new Set((s.outputKeys ?? []).map((k) => k.to))]));
  const owe = (stage: string, to: string | undefined) => {
    const held = holders.get(stage);
    if (to === undefined || held === undefined || held.has(to)) return;
    held.add(to);
    out.push({ stage, to, purpose: "output" });
  };
  for (const s of job.stages) {
    const spec = s.name.replace(/~[2-9]$/, "");
    if (reading.has(s.status)) owe(byName.has(spec) ? spec : s.name, s.provider);
    for (const dep of s.after) {
      if (reading.has(s.status)) owe(dep, s.provider);
      owe(dep, s.check?.verifier);
      owe(dep, s.check?.referee);
    }
  }
  return out;
}
