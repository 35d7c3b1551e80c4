/**
 * Job spec files: YAML (or JSON) whose content is a `submitJob` body in wire form, validated by
 * the same schema the coordinator uses. Errors name the path of the first problem.
 */
import { parse } from "yaml";
import type { z } from "zod";
import { SwitchyardError } from "./errors.ts";
import { findCity } from "./geo.ts";
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
  const parsed = submitJobSchema.safeParse(resolveCities(raw));
  if (!parsed.success) {
    throw new SwitchyardError("MALFORMED", `${source}: ${describe(parsed.error)}`);
  }
  return parsed.data;
}

/**
 * `latency: { to: { city: Singapore } }` is spec-file sugar: the signed message carries the city's
 * coordinates, so the network never depends on which city table a client had.
 */
function resolveCities(raw: unknown): unknown {
  const stages = (raw as { stages?: unknown })?.stages;
  if (!Array.isArray(stages)) return raw;
  return {
    ...(raw as object),
    stages: stages.map((stage) => {
      const to = (stage as { latency?: { to?: { city?: unknown } } })?.latency?.to;
      if (to === undefined || to === null || typeof to.city !== "string") return stage;
      const city = findCity(to.city);
      const latency = (stage as { latency: object }).latency;
      return {
        ...stage,
        latency: { ...latency, to: { latE6: city.latE6, lonE6: city.lonE6, label: city.name } },
      };
    }),
  };
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}
