/**
 * Which stages changed status in an event, for the `stage` frames of /v1/stream?job=. The core
 * reports what it decided as effects, but not every transition has one (starting and committing a
 * stage have none), so the shell keeps a mirror of each open job's stage statuses and compares
 * after every event, for the jobs that event can have touched: the job a message names, the job a
 * submitJob creates, and every job an effect names (ticks and new offers touch jobs only through
 * effects). Finished jobs leave the mirror, so it holds open jobs only.
 */
import type { Effect, StageStatus, State } from "../core/index.ts";
import { jobIdOf } from "../protocol/hash.ts";
import type { JobId } from "../protocol/ids.ts";
import type { LogEvent } from "../protocol/log.ts";

export interface StageChange {
  readonly jobId: JobId;
  readonly stage: string;
  readonly status: StageStatus;
}

/** The id the core gives the job a submitJob event creates (`jobIdOf`, shared with core and SDK). */
function submittedJobId(event: LogEvent): JobId | null {
  if (event.payload.kind !== "msg" || event.payload.env.type !== "submitJob") return null;
  const env = event.payload.env;
  return jobIdOf(env.signer, env.nonce);
}

/** Jobs an event may have changed. */
export function touchedJobs(event: LogEvent, effects: readonly Effect[]): Set<JobId> {
  const jobs = new Set<JobId>();
  if (event.payload.kind === "msg") {
    const body = event.payload.env.body as { jobId?: JobId };
    if (typeof body.jobId === "string") jobs.add(body.jobId);
    const submitted = submittedJobId(event);
    if (submitted !== null) jobs.add(submitted);
  }
  for (const effect of effects) if ("jobId" in effect) jobs.add(effect.jobId);
  return jobs;
}

export class StageStatusMirror {
  readonly #statuses = new Map<JobId, Map<string, StageStatus>>();

  /** Start from a recovered state: every open job's current statuses, reported as no change. */
  constructor(state: State) {
    for (const job of state.jobs.values()) {
      if (job.status === "finished") continue;
      this.#statuses.set(job.id, new Map([...job.stages].map(([name, s]) => [name, s.status])));
    }
  }

  /** Number of open jobs mirrored (for tests). */
  get size(): number {
    return this.#statuses.size;
  }

  /** The stage changes of an event just applied to `state`, and the jobs it touched. */
  observe(
    state: State,
    event: LogEvent,
    effects: readonly Effect[],
  ): { changes: StageChange[]; jobs: JobId[] } {
    const changes: StageChange[] = [];
    const jobs: JobId[] = [];
    for (const id of touchedJobs(event, effects)) {
      const job = state.jobs.get(id);
      if (job === undefined) continue;
      jobs.push(id);
      const known = this.#statuses.get(id) ?? new Map<string, StageStatus>();
      for (const [name, stage] of job.stages) {
        if (known.get(name) === stage.status) continue;
        known.set(name, stage.status);
        changes.push({ jobId: id, stage: name, status: stage.status });
      }
      if (job.status === "finished") this.#statuses.delete(id);
      else this.#statuses.set(id, known);
    }
    return { changes, jobs };
  }
}
