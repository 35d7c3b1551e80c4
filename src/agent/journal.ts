/**
 * The provider's local journal: per (job, stage), how far this agent got. It is what lets an agent
 * reconnect after a coordinator restart — or restart itself — without losing or repeating work:
 *
 * - `started`: startStage was sent (acknowledged or not); the program may not have finished.
 * - `computed`: the output is in the BlobStore and root/output/steps are recorded here, but the
 *   commit was not acknowledged (the coordinator may or may not have it).
 * - `committed`: the coordinator acknowledged the commit, or showed that it holds it.
 * - `abandoned`: the stage went to another provider (a missed deadline) or ended without us.
 *
 * One small JSON file per stage, written aside, fsynced and renamed into place (then the directory
 * is fsynced), so a crash leaves the old record or the new one, never half of one. A phase never
 * goes backwards — a late writer cannot turn `committed` into `computed` — except out of
 * `abandoned`, when the coordinator gives the stage back to us after a timeout elsewhere.
 */
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { SwitchyardError } from "../protocol/errors.ts";
import { cidSchema, hex32Schema } from "../protocol/ids.ts";
import { syncPath } from "../store/durable-fs.ts";

export const stagePhases = ["started", "computed", "committed", "abandoned"] as const;
export type StagePhase = (typeof stagePhases)[number];

const resultSchema = z.strictObject({
  root: hex32Schema,
  output: cidSchema,
  steps: z.number().int().min(0),
  /** Checkpoint layout and manifest blob, committed for spot checks (stage-work.ts). */
  checkpointEvery: z.number().int().min(1).optional(),
  manifest: cidSchema.optional(),
  /** Size of the output blob as served (sealed, in a sealed job): readers' receipts are checked against it. */
  outputBytes: z.number().int().min(0).optional(),
});
export type StageResult = z.infer<typeof resultSchema>;

const recordSchema = z.strictObject({
  jobId: hex32Schema,
  stage: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(~[2-9])?$/),
  program: z.string(),
  phase: z.enum(stagePhases),
  result: resultSchema.optional(),
  /** Wall-clock ms of the last change, for operators reading the files. */
  updatedAt: z.number().int(),
});
export type StageRecord = z.infer<typeof recordSchema>;

const rank: Readonly<Record<StagePhase, number>> = { started: 0, computed: 1, committed: 2, abandoned: 2 };

export interface StageJournal {
  get(jobId: string, stage: string): StageRecord | undefined;
  /** Every record, oldest change first. */
  all(): readonly StageRecord[];
  /**
   * Durably records a phase (and the result, once there is one). A phase below the recorded one
   * is ignored and the recorded record returned; `result` is kept from earlier records.
   */
  record(entry: Omit<StageRecord, "updatedAt" | "result"> & { result?: StageResult }): Promise<StageRecord>;
}

/** What to do with an assignment, given what the journal says this agent already did. */
export interface StagePlan {
  /** Send startStage first (the coordinator shows the stage `matched`). */
  readonly start: boolean;
  /** A result computed earlier: commit it again instead of computing. */
  readonly result: StageResult | undefined;
}

/**
 * The reconnect rule, as a pure function. The coordinator's view decides whether startStage is
 * still needed (it shows `matched` until a startStage is durable); the journal decides whether the
 * work must run: a recorded result is committed again — never recomputed — and a commit the
 * coordinator already holds is refused by it with ILLEGAL_TRANSITION, which the agent resolves by
 * reading the job. Work in flight in this process is never started a second time (`inFlight`).
 *
 * ```ts
 * const plan = planStage(journal.get(a.jobId, a.stage), a.status, running.has(key));
 * ```
 */
export function planStage(
  record: StageRecord | undefined,
  status: "matched" | "running",
  inFlight: boolean,
): StagePlan | undefined {
  if (inFlight) return undefined;
  return { start: status === "matched", result: record?.result };
}

const fileName = (jobId: string, stage: string) => `${jobId}.${stage}.json`;

/**
 * Opens (creating it if needed) the journal in `dir` and loads every record. A file that does not
 * parse is refused with CORRUPTED naming it, rather than silently forgotten: forgetting a computed
 * result would make the agent compute again, and forgetting a commit would make it commit again.
 *
 * ```ts
 * const journal = await openStageJournal(join(dataDir, "journal"));
 * await journal.record({ jobId, stage: "train", program: "mlp-train", phase: "started" });
 * ```
 */
export async function openStageJournal(dir: string): Promise<StageJournal> {
  await mkdir(dir, { recursive: true });
  const records = new Map<string, StageRecord>();
  for (const name of (await readdir(dir)).sort()) {
    if (!name.endsWith(".json")) {
      if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
      continue;
    }
    const path = join(dir, name);
    let parsed: StageRecord;
    try {
      parsed = recordSchema.parse(JSON.parse(await readFile(path, "utf8")));
    } catch (cause) {
      throw new SwitchyardError(
        "CORRUPTED",
        `journal record ${path} is unreadable; move it away to continue`,
        {
          details: { path },
          cause,
        },
      );
    }
    records.set(fileName(parsed.jobId, parsed.stage), parsed);
  }
  // Writes of one record are chained, so two updates of a stage land in the order they were made.
  const writes = new Map<string, Promise<unknown>>();

  async function write(key: string, record: StageRecord): Promise<void> {
    const path = join(dir, key);
    const tmp = `${path}.${process.pid}.tmp`;
    const handle = await open(tmp, "w", 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(record)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncPath(dir);
  }

  return {
    get: (jobId, stage) => records.get(fileName(jobId, stage)),
    all: () => [...records.values()].sort((x, y) => x.updatedAt - y.updatedAt),
    record(entry) {
      const key = fileName(entry.jobId, entry.stage);
      const previous = records.get(key);
      // Only the coordinator giving an abandoned stage back to us reopens it.
      if (
        previous !== undefined &&
        previous.phase !== "abandoned" &&
        rank[entry.phase] < rank[previous.phase]
      ) {
        return Promise.resolve(previous);
      }
      const result = entry.result ?? previous?.result;
      const next: StageRecord = recordSchema.parse({
        jobId: entry.jobId,
        stage: entry.stage,
        program: entry.program,
        phase: entry.phase,
        ...(result === undefined ? {} : { result }),
        updatedAt: Date.now(),
      });
      records.set(key, next);
      const done = (writes.get(key) ?? Promise.resolve()).then(() => write(key, next));
      writes.set(
        key,
        done.catch(() => {}),
      );
      return done.then(() => next);
    },
  };
}
