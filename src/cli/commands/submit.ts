/** `switchyard submit <spec.yaml> [--watch]`: sign and submit a job; optionally watch it to the end. */
import { readFileSync } from "node:fs";
import type { JobView } from "../../protocol/api.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { parseJobSpec } from "../../protocol/job-spec.ts";
import { formatCredits } from "../../protocol/money.ts";
import { getJob, getNodes, submitJob, watchJob } from "../../sdk/index.ts";
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
  const client = cliClient(options.coordinator);
  const identity = await cliIdentity(options.key);
  const { jobId, receipt } = await submitJob(client, { identity, spec });
  out.progress(
    `job ${jobId} accepted at seq ${receipt.seq}; ${formatCredits(spec.budget)} credits locked in escrow`,
  );
  if (!options.watch) {
    out.result({ jobId, receipt }, () => jobId);
    return 0;
  }
  const job = await watchToEnd(client, jobId, out);
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

/** Follow a job on the stream until it finishes, redrawing the stage table on a terminal. */
export async function watchToEnd(
  client: ReturnType<typeof cliClient>,
  jobId: string,
  out: Output,
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
  for await (const update of watchJob(client, { id: jobId, signal: controller.signal })) {
    if (update.type === "job") job = update.job;
    else if (update.type === "stage") job = await getJob(client, { id: jobId });
    else continue;
    draw();
    if (job.status === "finished") break;
  }
  controller.abort();
  return job;
}
