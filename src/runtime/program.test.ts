import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { isSwitchyardError } from "../protocol/errors.ts";
import { merkleRoot } from "../protocol/merkle.ts";
import { ByteReader, ByteWriter } from "./encoding.ts";
import {
  checkpointHash,
  checkpointSteps,
  outputHash,
  parseProgramInput,
  resumeProgram,
  runProgram,
  runSegment,
  type StepProgram,
} from "./program.ts";

/** A small program: a 32-bit polynomial hash of 0, 1, …, steps − 1, seeded. */
interface Rolling {
  readonly i: number;
  readonly acc: number;
}
const rolling: StepProgram<{ steps: number; seed: number; failAt?: number | undefined }, Rolling, number> = {
  id: "test-rolling",
  inputSchema: z.strictObject({ steps: z.int().min(0), seed: z.int(), failAt: z.int().optional() }),
  stepCount: (input) => input.steps,
  init: (input) => ({ i: 0, acc: input.seed >>> 0 }),
  step: (s) => ({ i: s.i + 1, acc: (Math.imul(s.acc, 31) + s.i) >>> 0 }),
  output: (s) => s.acc,
  encodeState: (s) => new ByteWriter().u32(s.i).u32(s.acc).finish(),
  decodeState: (bytes) => {
    const r = new ByteReader(bytes);
    const state = { i: r.u32(), acc: r.u32() };
    r.end();
    return state;
  },
  encodeOutput: (acc) => new ByteWriter().u32(acc).finish(),
};

const failing: typeof rolling = {
  ...rolling,
  id: "test-failing",
  step(s) {
    if (s.i === 3) throw new TypeError("boom");
    return rolling.step(s);
  },
};

describe("step-program runner", () => {
  it("takes checkpoints at 0, k, 2k, … and always at the last step", () => {
    assert.deepEqual(checkpointSteps(10, 4), [0, 4, 8, 10]);
    assert.deepEqual(checkpointSteps(8, 4), [0, 4, 8]);
    assert.deepEqual(checkpointSteps(0, 4), [0]);
    assert.throws(
      () => checkpointSteps(5, 0),
      (e) => isSwitchyardError(e, "MALFORMED"),
    );
  });

  it("commits to the checkpoint hashes and the output hash with one Merkle root", () => {
    const input = { steps: 10, seed: 7 };
    const run = runProgram(rolling, input, { checkpointEvery: 4 });
    assert.equal(run.steps, 10);
    assert.equal(run.checkpoints.length, 4);
    assert.equal(run.outputHash, outputHash(rolling, run.output));
    assert.equal(run.root, merkleRoot([...run.checkpoints, run.outputHash]));
    let s = rolling.init(input);
    for (let i = 0; i < 8; i++) s = rolling.step(s);
    assert.equal(run.checkpoints[2], checkpointHash(rolling, 8, s));
  });

  it("binds each checkpoint to its step, so equal states at different steps hash apart", () => {
    const s = { i: 0, acc: 0 };
    assert.notEqual(checkpointHash(rolling, 0, s), checkpointHash(rolling, 1, s));
  });

  it("spot check: re-executing one segment from a checkpoint state reproduces the next checkpoint", () => {
    const input = { steps: 23, seed: 1 };
    const states = new Map<number, Uint8Array>();
    const run = runProgram(rolling, input, {
      checkpointEvery: 5,
      onCheckpoint: (step, b) => states.set(step, b),
    });
    const from = rolling.decodeState(states.get(10)!, input);
    assert.equal(checkpointHash(rolling, 15, runSegment(rolling, from, 10, 15)), run.checkpoints[3]);
  });

  it("property: resuming from any checkpoint gives the same result as a full run", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 9 }),
        fc.nat(),
        (steps, k, pick) => {
          const input = { steps, seed: 3 };
          const saved: Uint8Array[] = [];
          const full = runProgram(rolling, input, {
            checkpointEvery: k,
            onCheckpoint: (_, b) => saved.push(b),
          });
          const j = pick % full.checkpoints.length;
          const resumed = resumeProgram(
            rolling,
            input,
            { checkpointEvery: k },
            {
              checkpoints: full.checkpoints.slice(0, j + 1),
              stateBytes: saved[j]!,
            },
          );
          assert.deepEqual(resumed, full);
        },
      ),
    );
  });

  it("error: a state that does not match its checkpoint hash is refused", () => {
    const input = { steps: 8, seed: 3 };
    const saved: Uint8Array[] = [];
    const full = runProgram(rolling, input, { checkpointEvery: 4, onCheckpoint: (_, b) => saved.push(b) });
    const tampered = saved[1]!.slice();
    tampered[7]! ^= 1;
    assert.throws(
      () =>
        resumeProgram(
          rolling,
          input,
          { checkpointEvery: 4 },
          { checkpoints: full.checkpoints.slice(0, 2), stateBytes: tampered },
        ),
      (e) => isSwitchyardError(e, "STATE_HASH_MISMATCH"),
    );
  });

  it("error: an exception inside a program becomes PROGRAM_FAILED naming the step", () => {
    assert.throws(
      () => runProgram(failing, { steps: 10, seed: 0 }, { checkpointEvery: 2 }),
      (e) =>
        isSwitchyardError(e, "PROGRAM_FAILED") && e.details["step"] === 3 && e.cause instanceof TypeError,
    );
  });

  it("error: input that fails the program's schema is MALFORMED", () => {
    assert.throws(
      () => parseProgramInput(rolling, { steps: -1, seed: 0 }),
      (e) => isSwitchyardError(e, "MALFORMED") && e.message.includes("steps"),
    );
    assert.throws(
      () => runSegment(rolling, { i: 0, acc: 0 }, 5, 2),
      (e) => isSwitchyardError(e, "MALFORMED"),
    );
  });
});
