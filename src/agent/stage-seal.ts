/**
 * How an agent handles a restricted stage's data (docs/routing.md "Sealed states in the live
 * pipeline"): in a job submitted `sealed`, a stage with `jurisdictions` has its checkpoint states sealed under its stage key
 * before they are stored, served, mirrored to the coordinator or named in a message, and only a
 * node the requester released the key to (through the log, core/routing/keys.ts) can open them.
 * An unrestricted stage has no seal: everything passes through unchanged, as before.
 */
import type { Assignment, JobView } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { JobId } from "../protocol/ids.ts";
import { openBlob, outputSealName, type StageKey, sealBlob } from "../protocol/job-crypto.node.ts";
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
export function stageSealFor(
  ctx: ProviderContext,
  jobId: string,
  stage: string,
  deadline: number,
  view?: JobView,
): Promise<StageSeal | undefined> {
  return keyFor(ctx, jobId, deadline, view, {
    stage,
    bound: stage,
    what: `the key of restricted stage ${stage}`,
    keys: (job, s) => (job.sealed !== true || (s.jurisdictions?.length ?? 0) === 0 ? undefined : s.keys),
  });
}

/**
 * The seal of `stage`'s *output* (docs/routing.md "Sealed outputs and relayed inputs"): undefined
 * when the job was not submitted `sealed`; otherwise the output key, once the requester has released
 * it to this node — the stage's provider seals its output under it, and the stages that read the
 * output open it. Replicas (`train~2`) use their spec's output key.
 *
 * @throws SwitchyardError as {@link stageSealFor}.
 * @example
 * const outputSeal = await outputSealFor(ctx, jobId, "train", deadline);
 */
export function outputSealFor(
  ctx: ProviderContext,
  jobId: string,
  stage: string,
  deadline: number,
  view?: JobView,
): Promise<StageSeal | undefined> {
  const spec = stage.replace(/~[2-9]$/, "");
  return keyFor(ctx, jobId, deadline, view, {
    stage: spec,
    bound: outputSealName(spec),
    what: `the output key of stage ${spec}`,
    keys: (job, s) => (job.sealed !== true ? undefined : (s.outputKeys ?? [])),
  });
}

/**
 * Waits for every key this node needs to run `a` (core routing/keys.ts `missingKeys`): the stage
 * key of a restricted stage, the stage's output key, and the output keys of the stages whose outputs
 * it reads. Returns the stage's seals; nothing to wait for in a job not sealed.
 *
 * @throws SwitchyardError NOT_AUTHORIZED when a key was not released by the assignment's deadline.
 */
export async function keysForStage(
  ctx: ProviderContext,
  a: Pick<Assignment, "jobId" | "stage" | "deadline" | "inputs">,
  view?: JobView,
): Promise<{ seal: StageSeal | undefined; outputSeal: StageSeal | undefined }> {
  const seal = await stageSealFor(ctx, a.jobId, a.stage, a.deadline, view);
  const outputSeal = await outputSealFor(ctx, a.jobId, a.stage, a.deadline, view);
  for (const input of a.inputs) {
    if (input.stage !== undefined) await outputSealFor(ctx, a.jobId, input.stage, a.deadline, view);
  }
  return { seal, outputSeal };
}

interface KeyWanted {
  /** The stage record the key is released on. */
  readonly stage: string;
  /** The name the key is derived for and every sealed chunk is bound to. */
  readonly bound: string;
  readonly what: string;
  /** The keys released so far, or undefined when this data is not sealed (no key needed). */
  readonly keys: (job: JobView, stage: JobView["stages"][number]) => JobView["stages"][number]["keys"];
}

async function keyFor(
  ctx: ProviderContext,
  jobId: string,
  deadline: number,
  view: JobView | undefined,
  wanted: KeyWanted,
): Promise<StageSeal | undefined> {
  let cache = opened.get(ctx);
  if (cache === undefined) {
    cache = new Map();
    opened.set(ctx, cache);
  }
  const { stage, bound } = wanted;
  const cached = cache.get(`${jobId}/${bound}`);
  if (cached !== undefined) return { key: cached, jobId: jobId as JobId, stage: bound };
  let job = view ?? (await getJob(ctx.client, { id: jobId }));
  for (let attempt = 0; ; attempt++) {
    const s = job.stages.find((x) => x.name === stage);
    if (s === undefined) {
      throw new SwitchyardError("UNKNOWN_STAGE", `job ${jobId.slice(0, 12)}… has no stage ${stage}`);
    }
    const keys = wanted.keys(job, s);
    if (keys === undefined) return undefined;
    const mine = keys.find((k) => k.to === ctx.me);
    if (mine !== undefined) {
      const key = openStageKey(ctx.identity.secret, mine.sealed, { jobId, stage: bound });
      cache.set(`${jobId}/${bound}`, key);
      ctx.emit({ type: "keyReceived", jobId, stage: bound });
      return { key, jobId: jobId as JobId, stage: bound };
    }
    if (Date.now() > deadline || ctx.signal.aborted) {
      throw new SwitchyardError(
        "NOT_AUTHORIZED",
        `the requester has not released ${wanted.what} to this node; its sealed data cannot be opened`,
        { details: { jobId, stage: bound } },
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(500, 25 * 2 ** Math.min(attempt, 5))));
    job = await getJob(ctx.client, { id: jobId });
  }
}
