/**
 * The verifier role of the agent (docs/verification.md §5): every node with stake may be drawn to
 * check another provider's result, to answer a dispute over its own result, or to referee one
 * step. The agent polls its open tasks (GET /v1/providers/:key/tasks) and works each once:
 *
 * - verify: fetch the provider's manifest (checkpoint hashes, output hash, state ids), check it
 *   against the committed root, start from the revealed state of the checked segment (its hash
 *   must be the committed checkpoint), re-execute the segment step by step, then commit and reveal
 *   the verdict. A mismatch carries Merkle proofs of the two disputed checkpoints.
 * - dispute: answer the round's step with this node's hash there — the challenger from its trace,
 *   the provider from its own checkpoint state (a cheater, consistently, from its own path).
 * - referee: fetch the agreed state, check it hashes to the agreed hash, execute ONE step, report.
 *
 * Re-execution runs on the agent's main thread: a segment is checkpointEvery steps.
 */

import { randomBytes } from "node:crypto";
import { verdictCommitment } from "../core/verification/committee.ts";
import type { Assignment, Task } from "../protocol/api.ts";
import { fromHex, toHex } from "../protocol/bytes.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { Cid, Hex32 } from "../protocol/ids.ts";
import { merkleProof, merkleRoot } from "../protocol/merkle.ts";
import { type AnyStepProgram, hashStateBytes, parseProgramInput } from "../runtime/program.ts";
import { bindInputs } from "../runtime/programs/bind-inputs.ts";
import { getProgram, programs } from "../runtime/programs/registry.ts";
import { getJob, getTasks, signAndSubmit } from "../sdk/index.ts";
import { cheatStep } from "./adversary.ts";
import { fetchBlob } from "./blob-fetch.ts";
import { sealedInputFetcher } from "./input-path.ts";
import { mirror } from "./progress.ts";
import type { ProviderContext } from "./provider-context.ts";
import { reportError } from "./provider-context.ts";
import { openState, type StageSeal, sealState, stageSealFor } from "./stage-seal.ts";
import { fetchInputs } from "./stage-work.ts";

interface Manifest {
  readonly program: string;
  readonly checkpointEvery: number;
  readonly steps: number;
  readonly checkpoints: Hex32[];
  readonly outputHash: Hex32;
  readonly states: Cid[];
  /** The checkpoint of `states[0]` when the provider resumed a vanished one's run (default 0). */
  readonly statesFrom?: number;
  /** A restricted stage's states are sealed under its stage key (stage-seal.ts). */
  readonly sealed?: boolean;
}

/** A verifier's re-execution of one segment: its hash and stored state at every step. */
interface Trace {
  readonly hashes: Map<number, Hex32>;
  readonly cids: Map<number, Cid>;
}

export interface VerifierRole {
  /** Polls once and works every new task; resolves when they are done. */
  poll(): Promise<void>;
  stop(): void;
}

/**
 * Starts polling for verification tasks every `intervalMs` until `stop()` or the agent's signal.
 *
 * @example
 * const role = startVerifierRole(ctx, { intervalMs: 250 });
 */
export function startVerifierRole(
  ctx: ProviderContext,
  options: { readonly intervalMs: number; readonly cheat?: boolean; readonly lazy?: boolean },
): VerifierRole {
  const done = new Set<string>();
  const traces = new Map<string, Trace>();
  let running: Promise<void> | undefined;
  const poll = async (): Promise<void> => {
    if (running !== undefined) return running;
    running = (async () => {
      const tasks = await getTasks(ctx.client, { node: ctx.me });
      for (const task of tasks) {
        const id = taskId(task);
        if (done.has(id) || ctx.signal.aborted) continue;
        done.add(id);
        try {
          await work(ctx, task, traces, options.cheat === true, options.lazy === true);
        } catch (error) {
          reportError(ctx, error, task.jobId, task.stage);
        }
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => {
    poll().catch((error: unknown) => {
      if (!(isSwitchyardError(error, "UNREACHABLE") || ctx.signal.aborted)) reportError(ctx, error);
    });
  }, options.intervalMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  ctx.signal.addEventListener("abort", stop, { once: true });
  return { poll, stop };
}

function taskId(t: Task): string {
  const base = `${t.kind}/${t.jobId}/${t.stage}/${t.root}/${t.segment}`;
  if (t.kind === "dispute") return `${base}/${t.role}/${t.round}/${t.step}`;
  if (t.kind === "referee") return `${base}/${t.step}`;
  if (t.kind === "verify" && t.revealed !== undefined) return `${base}/revealed`;
  return base;
}

async function work(
  ctx: ProviderContext,
  task: Task,
  traces: Map<string, Trace>,
  cheat: boolean,
  lazy: boolean,
) {
  switch (task.kind) {
    case "verify":
      if (!task.committed) await (lazy ? approveWithoutComputing(ctx, task) : verify(ctx, task, traces));
      return;
    case "dispute":
      await answer(ctx, task, traces, cheat);
      return;
    case "referee":
      await referee(ctx, task);
      return;
    case "reveal":
      await revealCheckedState(ctx, task);
      return;
    default: {
      const never: never = task;
      throw new SwitchyardError("MALFORMED", `unknown task ${(never as Task).kind}`);
    }
  }
}

async function programInput(
  ctx: ProviderContext,
  task: Task,
): Promise<{ program: AnyStepProgram; input: unknown }> {
  // A sealed job's inputs are its producers' sealed outputs: routed and opened with their output keys.
  const job = await getJob(ctx.client, { id: task.jobId });
  const bytes = await fetchInputs({ inputs: task.inputs } as Assignment, {
    pool: ctx.pool,
    blobs: ctx.blobs,
    checkpointEvery: task.checkpointEvery,
    fetch: ctx.fetch,
    fetchInput: sealedInputFetcher(ctx, {
      jobId: task.jobId,
      deadline: task.deadline,
      job,
      stage: task.stage,
    }),
  });
  const program = getProgram(programs, task.program);
  return { program, input: parseProgramInput(program, bindInputs(task.program, task.params, bytes)) };
}

async function blob(ctx: ProviderContext, cid: string, sources: readonly string[]): Promise<Uint8Array> {
  if (await ctx.blobs.has(cid as Cid)) return ctx.blobs.get(cid as Cid);
  const got = await fetchBlob({
    cid: cid as Cid,
    sources,
    store: ctx.blobs,
    fetch: ctx.fetch,
    signal: ctx.signal,
  });
  return got.bytes;
}

async function manifestOf(ctx: ProviderContext, task: Task): Promise<Manifest> {
  const sources = task.providerEndpoint === undefined ? [] : [task.providerEndpoint];
  const m = JSON.parse(new TextDecoder().decode(await blob(ctx, task.manifest, sources))) as Manifest;
  if (merkleRoot([...m.checkpoints, m.outputHash]) !== task.root) {
    throw new SwitchyardError("CORRUPTED", `the manifest of ${task.stage} does not match the committed root`);
  }
  return m;
}

/** The state at the start of the checked segment, as the provider revealed it, checked. */
async function segmentStart(
  ctx: ProviderContext,
  task: Task,
  m: Manifest,
  program: AnyStepProgram,
  seal: StageSeal | undefined,
) {
  const sources = task.providerEndpoint === undefined ? [] : [task.providerEndpoint];
  const held = m.states[task.segment - (m.statesFrom ?? 0)];
  if (held === undefined)
    throw new SwitchyardError(
      "NOT_FOUND",
      `the provider's manifest holds no state for checkpoint ${task.segment}`,
    );
  const bytes = openState(seal, await blob(ctx, held, sources));
  if (hashStateBytes(program.id, task.fromStep, bytes) !== m.checkpoints[task.segment]) {
    throw new SwitchyardError(
      "STATE_HASH_MISMATCH",
      `revealed state ${task.segment} is not the committed one`,
    );
  }
  return bytes;
}

type Leaf = { hash: Hex32; proof: Hex32[] };

/**
 * What a check starts from: the segment's start state and its two committed checkpoints, proven.
 * From the provider's manifest and state, or — after a `withheld` verdict — from what the provider
 * revealed into the coordinator's blob cache. Null when the provider does not serve them.
 */
async function checkInputs(
  ctx: ProviderContext,
  task: Extract<Task, { kind: "verify" }>,
  program: AnyStepProgram,
  seal: StageSeal | undefined,
): Promise<{ startBytes: Uint8Array; agreed: Leaf; claimed: Leaf } | null> {
  if (task.revealed !== undefined) {
    const bytes = openState(seal, await blob(ctx, task.revealed.state, [`${ctx.client.url}/v1`]));
    if (hashStateBytes(program.id, task.fromStep, bytes) !== task.revealed.agreed.hash) {
      throw new SwitchyardError(
        "STATE_HASH_MISMATCH",
        `the revealed state of ${task.stage} is not the committed one`,
      );
    }
    return {
      startBytes: bytes,
      agreed: task.revealed.agreed as Leaf,
      claimed: task.revealed.claimed as Leaf,
    };
  }
  try {
    const m = await manifestOf(ctx, task);
    const startBytes = await segmentStart(ctx, task, m, program, seal);
    const leaves = [...m.checkpoints, m.outputHash];
    return {
      startBytes,
      agreed: { hash: leaves[task.segment]!, proof: [...merkleProof(leaves, task.segment)] },
      claimed: { hash: leaves[task.segment + 1]!, proof: [...merkleProof(leaves, task.segment + 1)] },
    };
  } catch (error) {
    // Not served, or not what the root commits to: the provider withheld what a check needs.
    if (isSwitchyardError(error) && withheldCodes.has(error.code)) return null;
    throw error;
  }
}

const withheldCodes = new Set(["NOT_FOUND", "UNREACHABLE", "CORRUPTED", "STATE_HASH_MISMATCH", "MALFORMED"]);

async function commitAndReveal(
  ctx: ProviderContext,
  task: Task,
  verdict: "match" | "mismatch" | "withheld",
  computed: Hex32,
  proofs: Record<string, unknown>,
): Promise<void> {
  const salt = toHex(randomBytes(32));
  const stage = `${task.jobId}/${task.stage}`;
  const commitment = verdictCommitment({ verdict, salt, verifier: ctx.me, stage, computed });
  await signAndSubmit(ctx.client, {
    identity: ctx.identity,
    type: "commitVerdict",
    body: { jobId: task.jobId, stage: task.stage, commitment },
  });
  await signAndSubmit(ctx.client, {
    identity: ctx.identity,
    type: "revealVerdict",
    body: { jobId: task.jobId, stage: task.stage, verdict, salt, computed, ...proofs } as never,
  });
}

async function verify(
  ctx: ProviderContext,
  task: Extract<Task, { kind: "verify" }>,
  traces: Map<string, Trace>,
): Promise<void> {
  const { program, input } = await programInput(ctx, task);
  const seal = await stageSealFor(ctx, task.jobId, task.stage, task.deadline);
  const start = await checkInputs(ctx, task, program, seal);
  if (start === null) {
    await commitAndReveal(ctx, task, "withheld", "0".repeat(64) as Hex32, {});
    ctx.emit({
      type: "verified",
      jobId: task.jobId,
      stage: task.stage,
      verdict: "withheld",
      segment: task.segment,
    });
    return;
  }
  // A restricted stage's states stay sealed in this agent's store too: its blob server serves any cid.
  const fromCid = await ctx.blobs.put(sealState(seal, start.startBytes));
  const trace: Trace = {
    hashes: new Map([[task.fromStep, start.agreed.hash]]),
    cids: new Map([[task.fromStep, fromCid]]),
  };
  let state = program.decodeState(start.startBytes, input);
  for (let s = task.fromStep + 1; s <= task.toStep; s++) {
    state = program.step(state);
    const bytes = program.encodeState(state);
    trace.hashes.set(s, hashStateBytes(program.id, s, bytes));
    trace.cids.set(s, await ctx.blobs.put(sealState(seal, bytes)));
  }
  traces.set(`${task.jobId}/${task.stage}`, trace);
  const computed = trace.hashes.get(task.toStep)!;
  const verdict = computed === start.claimed.hash ? "match" : "mismatch";
  await commitAndReveal(
    ctx,
    task,
    verdict,
    computed,
    verdict === "mismatch" ? { agreed: start.agreed, claimed: start.claimed, state: fromCid } : {},
  );
  ctx.emit({ type: "verified", jobId: task.jobId, stage: task.stage, verdict, segment: task.segment });
}

/**
 * The provider's answer to a `withheld` verdict: put the checked segment's start state into the
 * coordinator's blob cache and reveal it with the segment's two checkpoints, proven. (An honest
 * agent serves these anyway; its verifier may have failed to reach it.)
 */
async function revealCheckedState(
  ctx: ProviderContext,
  task: Extract<Task, { kind: "reveal" }>,
): Promise<void> {
  const m = JSON.parse(new TextDecoder().decode(await ctx.blobs.get(task.manifest as Cid))) as Manifest;
  const cid = m.states[task.segment - (m.statesFrom ?? 0)];
  if (cid === undefined) {
    throw new SwitchyardError(
      "NOT_FOUND",
      `this agent holds no state for checkpoint ${task.segment} of ${task.stage}`,
    );
  }
  await mirror(ctx, cid, await ctx.blobs.get(cid));
  const leaves = [...m.checkpoints, m.outputHash];
  await signAndSubmit(ctx.client, {
    identity: ctx.identity,
    type: "revealState",
    body: {
      jobId: task.jobId,
      stage: task.stage,
      state: cid,
      agreed: { hash: leaves[task.segment]!, proof: [...merkleProof(leaves, task.segment)] },
      claimed: { hash: leaves[task.segment + 1]!, proof: [...merkleProof(leaves, task.segment + 1)] },
    },
  });
}

/**
 * The lazy verifier of the adversarial tests (issue 4): it approves by copying the provider's claim
 * instead of re-executing. Canaries exist to catch exactly this (live.ts applyRevealCanary).
 */
async function approveWithoutComputing(ctx: ProviderContext, task: Task): Promise<void> {
  const m = await manifestOf(ctx, task);
  const computed = m.checkpoints[task.segment + 1]!;
  const salt = toHex(randomBytes(32));
  const stage = `${task.jobId}/${task.stage}`;
  const commitment = verdictCommitment({ verdict: "match", salt, verifier: ctx.me, stage, computed });
  await signAndSubmit(ctx.client, {
    identity: ctx.identity,
    type: "commitVerdict",
    body: { jobId: task.jobId, stage: task.stage, commitment },
  });
  await signAndSubmit(ctx.client, {
    identity: ctx.identity,
    type: "revealVerdict",
    body: { jobId: task.jobId, stage: task.stage, verdict: "match", salt, computed },
  });
  ctx.emit({
    type: "verified",
    jobId: task.jobId,
    stage: task.stage,
    verdict: "match",
    segment: task.segment,
  });
}

async function answer(
  ctx: ProviderContext,
  task: Extract<Task, { kind: "dispute" }>,
  traces: Map<string, Trace>,
  cheat: boolean,
): Promise<void> {
  let hash: Hex32;
  let state: Cid;
  const trace = traces.get(`${task.jobId}/${task.stage}`);
  if (task.role === "challenger" && trace?.hashes.has(task.step)) {
    hash = trace.hashes.get(task.step)!;
    state = trace.cids.get(task.step)!;
  } else {
    // The provider's own path from its committed checkpoint (a cheater's from its own corrupted one).
    const { program, input } = await programInput(ctx, task);
    const m = await manifestOf(ctx, task);
    const seal = await stageSealFor(ctx, task.jobId, task.stage, task.deadline);
    let s = program.decodeState(await segmentStart(ctx, task, m, program, seal), input);
    const honest = task.role === "challenger" || !cheat;
    for (let i = task.fromStep + 1; i <= task.step; i++) {
      s = honest ? program.step(s) : cheatStep(program, s, input, i, task.checkpointEvery);
    }
    const bytes = program.encodeState(s);
    hash = hashStateBytes(program.id, task.step, bytes);
    state = await ctx.blobs.put(sealState(seal, bytes));
  }
  await signAndSubmit(ctx.client, {
    identity: ctx.identity,
    type: "disputeAnswer",
    body: { jobId: task.jobId, stage: task.stage, step: task.step, hash, state },
  });
  ctx.emit({
    type: "disputeAnswered",
    jobId: task.jobId,
    stage: task.stage,
    step: task.step,
    role: task.role,
  });
}

async function referee(ctx: ProviderContext, task: Extract<Task, { kind: "referee" }>): Promise<void> {
  const { program, input } = await programInput(ctx, task);
  const seal = await stageSealFor(ctx, task.jobId, task.stage, task.deadline);
  let bytes: Uint8Array | undefined;
  for (const source of task.sources) {
    try {
      const b = openState(seal, await blob(ctx, source.cid, source.from === undefined ? [] : [source.from]));
      if (hashStateBytes(program.id, task.step, b) === task.agreed) {
        bytes = b;
        break;
      }
    } catch {
      // Try the next source: either party may serve the agreed state.
    }
  }
  if (bytes === undefined) {
    throw new SwitchyardError(
      "NOT_FOUND",
      `no party served the agreed state of ${task.stage} at step ${task.step}`,
    );
  }
  const next = program.step(program.decodeState(bytes, input));
  const hash = hashStateBytes(program.id, task.step + 1, program.encodeState(next));
  await signAndSubmit(ctx.client, {
    identity: ctx.identity,
    type: "refereeVerdict",
    body: { jobId: task.jobId, stage: task.stage, hash },
  });
  ctx.emit({ type: "refereed", jobId: task.jobId, stage: task.stage, step: task.step });
}

/** Hex helpers kept local: salts are 32 random bytes. */
export const isSalt = (s: string): boolean => fromHex(s).length === 32;
