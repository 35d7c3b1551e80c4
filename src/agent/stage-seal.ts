/**
 * How an agent handles a restricted stage's data (docs/routing.md "Sealed states in the live
 * pipeline"): in a job submitted `sealed`, a stage with `jurisdictions` has its checkpoint states sealed under its stage key
 * before they are stored, served, mirrored to the coordinator or named in a message, and only a
 * node the requester released the key to (through the log, core/routing/keys.ts) can open them.
 * An unrestricted stage has no seal: everything passes through unchanged, as before.
 */
import type { JobView } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { JobId } from "../protocol/ids.ts";
import { openBlob, type StageKey, sealBlob } from "../protocol/job-crypto.node.ts";
import { openStageKey } from "../protocol/key-wrap.node.ts";
import { getJob } from "../sdk/index.ts";
import type { ProviderContext } from "./provider-context.ts";

/** The key of one restricted stage, with what every sealed chunk is bound to. */
export interface StageSeal {
  readonly key: StageKey;
  readonly jobId: JobId;
  readonly stage: string;
}

/** `bytes` sealed under the stage key, or unchanged for an unrestricted stage (no seal). */
export function sealState(seal: StageSeal | undefined, bytes: Uint8Array): Uint8Array {
  return seal === undefined ? bytes : sealBlob(seal.key, seal, bytes);
}

/**
 * The plaintext of a state stored by {@link sealState}.
 *
 * @throws SwitchyardError CORRUPTED when a restricted stage's state is not sealed under its key.
 */
export function openState(seal: StageSeal | undefined, bytes: Uint8Array): Uint8Array {
  return seal === undefined ? bytes : openBlob(seal.key, seal, bytes);
}

const opened = new WeakMap<ProviderContext, Map<string, StageKey>>();

/**
 * The seal of `stage` for this agent: undefined when the stage is unrestricted or the job was not
 * submitted `sealed`; otherwise its key,
 * once the requester has released it to this node (polled on the job view until `deadline`).
 *
 * @throws SwitchyardError NOT_AUTHORIZED when no key was released to this node by `deadline` (or
 *   the agent stopped); UNKNOWN_STAGE when the job has no such stage.
 * @example
 * const seal = await stageSealFor(ctx, assignment.jobId, assignment.stage, assignment.deadline);
 */
export async function stageSealFor(
  ctx: ProviderContext,
  jobId: string,
  stage: string,
  deadline: number,
  view?: JobView,
): Promise<StageSeal | undefined> {
  let cache = opened.get(ctx);
  if (cache === undefined) {
    cache = new Map();
    opened.set(ctx, cache);
  }
  const cached = cache.get(`${jobId}/${stage}`);
  if (cached !== undefined) return { key: cached, jobId: jobId as JobId, stage };
  let job = view ?? (await getJob(ctx.client, { id: jobId }));
  for (let attempt = 0; ; attempt++) {
    const s = job.stages.find((x) => x.name === stage);
    if (s === undefined) {
      throw new SwitchyardError("UNKNOWN_STAGE", `job ${jobId.slice(0, 12)}… has no stage ${stage}`);
    }
    if (job.sealed !== true || (s.jurisdictions?.length ?? 0) === 0) return undefined;
    const mine = s.keys?.find((k) => k.to === ctx.me);
    if (mine !== undefined) {
      const key = openStageKey(ctx.identity.secret, mine.sealed, { jobId, stage });
      cache.set(`${jobId}/${stage}`, key);
      ctx.emit({ type: "keyReceived", jobId, stage });
      return { key, jobId: jobId as JobId, stage };
    }
    if (Date.now() > deadline || ctx.signal.aborted) {
      throw new SwitchyardError(
        "NOT_AUTHORIZED",
        `the requester has not released the key of restricted stage ${stage} to this node; its sealed data cannot be opened`,
        { details: { jobId, stage } },
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(500, 25 * 2 ** Math.min(attempt, 5))));
    job = await getJob(ctx.client, { id: jobId });
  }
}
