/**
 * The built-in step programs by id. A job names a program by id and carries parameters that the
 * program's schema validates; providers and verifiers resolve the id here, so every honest machine
 * runs the same code for the same id.
 */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { AnyStepProgram } from "../program.ts";
import { mlpEval } from "./mlp-eval.ts";
import { mlpTrain } from "./mlp-train.ts";
import { qaoaMaxCut } from "./qaoa-maxcut.ts";
import { qaoaOptimizer } from "./qaoa-optimizer.ts";

/** A lookup of programs by id; the worker pool accepts any module exporting one as `programs`. */
export type ProgramRegistry = ReadonlyMap<string, AnyStepProgram>;

export function programRegistry(programs: readonly AnyStepProgram[]): ProgramRegistry {
  const byId = new Map<string, AnyStepProgram>();
  for (const p of programs) {
    if (byId.has(p.id)) throw new SwitchyardError("INVARIANT_VIOLATED", `two programs share the id ${p.id}`);
    byId.set(p.id, p);
  }
  return byId;
}

export const programs: ProgramRegistry = programRegistry([mlpTrain, mlpEval, qaoaMaxCut, qaoaOptimizer]);

/** The program registered as `id`; NOT_FOUND names the ids that exist. */
export function getProgram(registry: ProgramRegistry, id: string): AnyStepProgram {
  const program = registry.get(id);
  if (program === undefined) {
    throw new SwitchyardError("NOT_FOUND", `no program '${id}'; known: ${[...registry.keys()].join(", ")}`, {
      details: { program: id },
    });
  }
  return program;
}
