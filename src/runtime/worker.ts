/**
 * Entry of a pool worker thread (see pool.ts). It loads a program registry once, says "ready", then
 * runs (or resumes) one job per message, posting each checkpoint as it is taken when asked to, and
 * answers with the run's result or a serialized SwitchyardError.
 * Anything that escapes (a heap-limit kill, an engine failure) is left to the pool, which sees the
 * worker die and fails the job.
 */
import { parentPort, workerData } from "node:worker_threads";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { WorkerReply, WorkerRequest, WorkerSetup } from "./pool.ts";
import { parseProgramInput, type RunOptions, resumeProgram, runProgram } from "./program.ts";
import { getProgram, type ProgramRegistry } from "./programs/registry.ts";

const port = parentPort;
if (port === null)
  throw new SwitchyardError("PROGRAM_FAILED", "runtime/worker.ts must run in a worker thread");

const setup = workerData as WorkerSetup;
const { programs } = (await import(setup.programsModule)) as { programs: ProgramRegistry };

function reply(message: WorkerReply): void {
  port?.postMessage(message);
}

port.on("message", (request: WorkerRequest) => {
  try {
    const program = getProgram(programs, request.program);
    const input = parseProgramInput(program, request.input);
    // Checkpoints go to the pool as they are taken: it keeps their states or reports them on.
    let index = request.resume === undefined ? 0 : request.resume.checkpoints.length;
    let steps: number | undefined;
    const options: RunOptions = {
      checkpointEvery: request.checkpointEvery,
      ...(request.streamCheckpoints === true
        ? {
            onCheckpoint: (step, state, hash) => {
              // Asked once the run has started, so a program's prepared input is already cached.
              steps ??= program.stepCount(input);
              reply({ kind: "checkpoint", id: request.id, index: index++, step, steps, hash, state });
            },
          }
        : {}),
    };
    const result =
      request.resume === undefined
        ? runProgram(program, input, options)
        : resumeProgram(program, input, options, request.resume);
    reply({ kind: "result", id: request.id, result });
  } catch (e) {
    const error = isSwitchyardError(e)
      ? e
      : new SwitchyardError("PROGRAM_FAILED", `worker failed: ${e instanceof Error ? e.message : String(e)}`);
    reply({ kind: "failed", id: request.id, error: error.toJSON() });
  }
});
reply({ kind: "ready" });
