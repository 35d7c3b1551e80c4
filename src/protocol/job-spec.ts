/**
 * Job spec files: YAML (or JSON) whose content is a `submitJob` body in wire form, validated by
 * the same schema the coordinator uses. Errors name the path of the first problem.
 */
import { parse } from "yaml";
import type { z } from "zod";
import { SwitchyardError } from "./errors.ts";
import { type SubmitJob, submitJobSchema } from "./messages.ts";

export function parseJobSpec(text: string, source = "job spec"): SubmitJob {
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 100 });
  } catch (cause) {
    throw new SwitchyardError("MALFORMED", `${source} is not valid YAML: ${(cause as Error).message}`, {
      cause,
    });
  }
  const parsed = submitJobSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SwitchyardError("MALFORMED", `${source}: ${describe(parsed.error)}`);
  }
  return parsed.data;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}
