/**
 * Programs that misbehave on purpose, for the worker pool's limit tests: one never finishes a
 * step, one allocates heap until it is killed, one throws a plain Error. Loaded only through the pool's
 * `programsModule` option, never part of the built-in registry.
 */
import { z } from "zod";
import type { AnyStepProgram, StepProgram } from "../program.ts";
import { programs as builtins, programRegistry } from "../programs/registry.ts";

type Counter = StepProgram<Record<string, never>, number, number>;

const counter = {
  inputSchema: z.strictObject({}),
  stepCount: () => 1,
  init: () => 0,
  output: (n: number) => n,
  encodeState: (n: number) => Uint8Array.of(n & 0xff),
  decodeState: (bytes: Uint8Array) => bytes[0] ?? 0,
  encodeOutput: (n: number) => Uint8Array.of(n & 0xff),
} satisfies Omit<Counter, "id" | "step">;

const spinForever: Counter = {
  ...counter,
  id: "test-spin-forever",
  step(n) {
    let i = n;
    while (i >= 0) i = (i + 1) % 1000;
    return i;
  },
};

const hoardMemory: Counter = {
  ...counter,
  id: "test-hoard-memory",
  step(n) {
    const hoard: number[][] = [];
    while (hoard.length >= 0) hoard.push([hoard.length, n]);
    return hoard.length;
  },
};

const throwInStep: Counter = {
  ...counter,
  id: "test-throw",
  step() {
    // A plain error, as a bug would throw: the runner must turn it into PROGRAM_FAILED.
    throw new RangeError("this program always fails");
  },
};

export const programs = programRegistry([
  ...builtins.values(),
  ...([spinForever, hoardMemory, throwInStep] as AnyStepProgram[]),
]);
