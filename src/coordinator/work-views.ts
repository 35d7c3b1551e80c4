import { disputeSides, type Effect, type Job, resultOf, type Stage, type State } from "../core/index.ts";
import type { Assignment, InputSource, Task } from "../protocol/api.ts";
import type { JobId, PublicKeyHex } from "../protocol/ids.ts";
import { definedOnly } from "./views.ts";

/**
 * Where each input of a stage can be fetched: for outputs of the stages it runs after, the stage
 * that produced it, its provider, that provider's endpoint and the size it declared. Declared inputs
 * have no known producer.
 */
function producers(state: State, job: Job, stage: Stage): Map<string, Omit<InputSource, "cid">> {
  const from = new Map<string, Omit<InputSource, "cid">>();
  for (const dep of stage.spec.after) {
    const output = resultOf(job, dep);
    const producer = job.stages.get(dep);
    if (output === undefined || producer === undefined) continue;
    // A replicated stage's accepted output may come from any replica that committed it.
    const by = [...job.stages.values()].find(
      (s) =>
        s.output === output &&
        s.provider !== undefined &&
        (s === producer || s.spec.name.startsWith(`${dep}~`)),
    );
    if (by?.provider === undefined) continue;
    const endpoint = state.nodes.get(by.provider)?.endpoint;
    from.set(output, {
      stage: dep,
      producer: by.provider,
      ...definedOnly({ from: endpoint, bytes: by.outputBytes }),
    });
  }
  return from;
}

function inputsWithSources(
  state: State,
  job: Job,
  stage: Stage,
  cids: readonly string[],
): Assignment["inputs"] {
  const from = producers(state, job, stage);
  return cids.map((cid) => ({ cid, ...from.get(cid) }));
}

/** The inputs of a placed stage, as placement computes them: declared inputs, then dependency outputs. */
function stageInputs(job: Job, stage: Stage): string[] {
  const inputs: string[] = [...stage.spec.inputs];
  for (const dep of stage.spec.after) {
    const output = resultOf(job, dep);
    if (output !== undefined) inputs.push(output);
  }
  return inputs;
}

/**
 * GET /v1/providers/:key/tasks: the verification work `node` owes now — a check to make, a dispute
 * round to answer (until it has answered), or a step to referee.
 */
export function tasksOf(state: State, node: PublicKeyHex): Task[] {
  const out: Task[] = [];
  for (const key of state.active.keys()) {
    const slash = key.indexOf("/");
    const job = state.jobs.get(key.slice(0, slash) as JobId);
    const stage = job?.stages.get(key.slice(slash + 1));
    const check = stage?.check;
    if (job === undefined || stage === undefined || check === undefined || stage.status !== "committed")
      continue;
    if (check.phase === "beacon") continue;
    const provider = stage.provider!;
    const base = {
      jobId: job.id,
      stage: stage.spec.name,
      program: stage.spec.program,
      params: { ...stage.spec.params },
      inputs: inputsWithSources(state, job, stage, stageInputs(job, stage)),
      provider,
      ...definedOnly({ providerEndpoint: state.nodes.get(provider)?.endpoint }),
      root: stage.root!,
      manifest: stage.manifest!,
      steps: stage.steps!,
      checkpointEvery: stage.checkpointEvery!,
      segment: check.segment!,
      fromStep: check.fromStep!,
      toStep: check.toStep!,
      deadline: stage.deadline!,
    };
    if ((check.phase === "verifying" || check.phase === "revealing") && check.verifier === node) {
      out.push({
        kind: "verify",
        ...base,
        committed: check.phase === "revealing",
        ...(check.revealed === undefined
          ? {}
          : {
              revealed: {
                state: check.revealed.state,
                agreed: { hash: check.revealed.agreed.hash, proof: [...check.revealed.agreed.proof] },
                claimed: { hash: check.revealed.claimed.hash, proof: [...check.revealed.claimed.proof] },
              },
            }),
      });
    } else if (check.phase === "withheld" && node === provider) {
      out.push({ kind: "reveal", ...base });
    } else if (check.phase === "disputing" && check.dispute !== undefined) {
      const sides = disputeSides(stage, check);
      const role =
        node === sides.provider ? "provider" : node === sides.challenger ? "challenger" : undefined;
      const d = check.dispute;
      if (role === undefined || d.answers[role] !== undefined) continue;
      out.push({
        kind: "dispute",
        ...base,
        role,
        step: d.lo + Math.floor((d.hi - d.lo) / 2),
        round: d.rounds,
      });
    } else if (check.phase === "refereeing" && check.referee === node && check.dispute !== undefined) {
      const lo = check.dispute.lo;
      const sources = check.sources
        .filter((x) => x.step === lo)
        .map(
          (x) =>
            definedOnly({ cid: x.cid as string, from: state.nodes.get(x.holder)?.endpoint }) as {
              cid: string;
              from?: string;
            },
        );
      out.push({ kind: "referee", ...base, step: lo, agreed: check.dispute.agreed, sources });
    }
  }
  return out;
}

/**
 * Where a stage placed again after its provider vanished resumes: the reported checkpoint, the
 * hashes before it, and the vanished provider's endpoint (the agent adds its coordinator's cache).
 */
function resumeOf(state: State, stage: Stage): Pick<Assignment, "resume"> {
  const r = stage.resumeFrom;
  if (r === undefined) return {};
  const endpoint = state.nodes.get(r.by)?.endpoint;
  return {
    resume: {
      index: r.index,
      step: r.step,
      steps: r.steps,
      checkpointEvery: r.checkpointEvery,
      hash: r.hash,
      state: r.state,
      checkpoints: [...r.checkpoints],
      from: endpoint === undefined ? [] : [endpoint],
    },
  };
}

/** GET /v1/providers/:key/assignments: the provider's matched and running stages, oldest first. */
export function assignmentsOf(state: State, provider: PublicKeyHex): Assignment[] {
  const out: Assignment[] = [];
  for (const key of state.active.keys()) {
    const slash = key.indexOf("/");
    const job = state.jobs.get(key.slice(0, slash) as JobId);
    const stage = job?.stages.get(key.slice(slash + 1));
    if (job === undefined || stage === undefined || stage.provider !== provider) continue;
    if (stage.status !== "matched" && stage.status !== "running") continue;
    out.push({
      jobId: job.id,
      stage: stage.spec.name,
      provider,
      offerId: stage.offerId!,
      program: stage.spec.program,
      params: { ...stage.spec.params },
      inputs: inputsWithSources(state, job, stage, stageInputs(job, stage)),
      pricePerUnitSecond: stage.price!.toString(),
      status: stage.status,
      // Under a progress lease a running stage's deadline is the lease's end: the work's is the run's.
      deadline: stage.runDeadline ?? stage.deadline!,
      ...resumeOf(state, stage),
    });
  }
  return out;
}

/**
 * The assignment an `assign` effect announces, as pushed to its provider: exactly what the event
 * decided (status matched), with input sources looked up in `state`.
 */
export function assignmentOf(state: State, effect: Extract<Effect, { type: "assign" }>): Assignment {
  const job = state.jobs.get(effect.jobId);
  const stage = job?.stages.get(effect.stage);
  const inputs =
    job === undefined || stage === undefined
      ? effect.inputs.map((cid) => ({ cid }))
      : inputsWithSources(state, job, stage, effect.inputs);
  return {
    jobId: effect.jobId,
    stage: effect.stage,
    provider: effect.provider,
    offerId: effect.offerId,
    program: effect.program,
    params: { ...effect.params },
    inputs,
    pricePerUnitSecond: effect.pricePerUnitSecond.toString(),
    status: "matched",
    deadline: effect.deadline,
    ...(stage === undefined ? {} : resumeOf(state, stage)),
  };
}
