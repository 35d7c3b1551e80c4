/** How a stage's program input is made from its parameters and its upstream outputs. */
import { SwitchyardError } from "../../protocol/errors.ts";
import { getProgram, programs } from "./registry.ts";

/**
 * The program input: the stage's parameters, plus every field of each upstream output (a JSON
 * object) that the program's input schema declares and the parameters do not set: binding by
 * field name (`model` from mlp-train into mlp-eval, say). Provider agents and the in-process
 * pipeline both build inputs here, so a stage gets the same input wherever it runs.
 */
export function bindInputs(
  program: string,
  params: Readonly<Record<string, unknown>>,
  inputs: readonly Uint8Array[],
) {
  const shape =
    (getProgram(programs, program).inputSchema as unknown as { shape?: Record<string, unknown> }).shape ?? {};
  const input: Record<string, unknown> = { ...params };
  for (const bytes of inputs) {
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(bytes));
    } catch (cause) {
      throw new SwitchyardError(
        "MALFORMED",
        "an input of the stage is not JSON; programs read JSON outputs",
        { cause },
      );
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
    for (const [k, v] of Object.entries(value))
      if (Object.hasOwn(shape, k) && !Object.hasOwn(input, k)) input[k] = v;
  }
  return input;
}
