/**
 * `switchyard submit <spec.yaml> [--watch]`: sign and submit a job; optionally watch it to the end.
 * A spec with `sealed: true` needs `--watch`: this process holds the job key and releases each
 * restricted stage's key through the log while the job runs (sdk/release-stage-keys.ts).
 */
import { readFileSync } from "node:fs";
import type { JobView } from "../../protocol/api.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { generateJobKey } from "../../protocol/job-crypto.node.ts";
import { parseJobSpec } from "../../protocol/job-spec.ts";
import { formatCredits } from "../../protocol/money.ts";
import { getJob, getNodes, submitJob, watchJob } from "../../sdk/index.ts";
import { releaseStageKeys } from "../../sdk/release-stage-keys.ts";
import { cliClient, cliIdentity } from "../client.ts";
import type { Output } from "../output.ts";
import { placementWhy, stagesTable } from "../stage-table.ts";

export interface SubmitOptions {
  readonly spec: string;
  readonly coordinator: string;
  readonly key: string;
  readonly watch: boolean;
}

export async function submit(options: SubmitOptions, out: Output): Promise<number> {
  let text: string;
  try {
    text = readFileSync(options.spec, "utf8");
  } catch (cause) {
    throw new SwitchyardError("NOT_FOUND", `cannot read job spec ${options.spec}`, { cause });
  }
  const spec = parseJobSpec(text, options.spec);
  if (spec.sealed === true && !options.watch) {
    throw new SwitchyardError(
      "MALFORMED",
      "a sealed job needs --watch: this process holds its job key and releases the stage keys while it runs",
    );
  }
  const client = cliClient(options.coordinator);
  const identity = await cliIdentity(options.key);
  const { jobId, receipt } = await submitJob(client, { identity, spec });
  const stopReleasing = new AbortController();
  const releasing =
    spec.sealed === true
      ? releaseStageKeys(client, {
          identity,
          jobId,
          jobKey: generateJobKey(),
          watch: { intervalMs: 250, signal: stopReleasing.signal },
        })
      : undefined;
  out.progress(
    `job ${jobId} accepted at seq ${receipt.seq}; ${formatCredits(spec.budget)} credits locked in escrow`,
  );
  if (!options.watch) {
    out.result({ jobId, receipt }, () => jobId);
    return 0;
  }
  const job = await watchToEnd(client, jobId, out).finally(() => stopReleasing.abort());
  const keys = await releasing;
  for (const r of keys?.refused ?? [])
    out.progress(`key of ${r.stage} not released to ${r.to.slice(0, 12)}…: ${r.message}`);
  const nodes = await getNodes(client);
  out.result({ jobId, receipt, job }, () =>
    [
      stagesTable(job, nodes),
      ...job.stages.map((s) => `  ${s.name}: ${placementWhy(s, nodes)}`),
      `refund ${formatCredits(BigInt(job.refund ?? "0"))} of ${formatCredits(BigInt(job.budget))} credits`,
    ].join("\n"),
  );
  return job.stages.every((s) => s.status === "settled") ? 0 : 1;
}

/**
 * Follow a job on the stream until it finishes, redrawing the stage table on a terminal. With
 * `timeoutMs`, stop following after that long and return the job as it stands (unfinished).
 */
export async function watchToEnd(
  client: ReturnType<typeof cliClient>,
  jobId: string,
  out: Output,
  options: { readonly timeoutMs?: number } = {},
): Promise<JobView> {
  const controller = new AbortController();
  const nodes = await getNodes(client);
  let job = await getJob(client, { id: jobId });
  let drawn = 0;
  const draw = () => {
    if (out.json) return;
    const text = stagesTable(job, nodes);
    if (process.stderr.isTTY && drawn > 0) process.stderr.write(`\x1b[${drawn}A\x1b[J`);
    process.stderr.write(`${text}\n`);
    drawn = text.split("\n").length;
  };
  draw();
  if (job.status === "finished") return job;
  const timer =
    options.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    for await (const update of watchJob(client, { id: jobId, signal: controller.signal })) {
      if (update.type === "job") job = update.job;
      else if (update.type === "stage") job = await getJob(client, { id: jobId });
      else continue;
      draw();
      if (job.status === "finished") break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  // Stopped by the timeout between two updates: the last view may be a moment old.
  return job.status === "finished" ? job : await getJob(client, { id: jobId });
}
