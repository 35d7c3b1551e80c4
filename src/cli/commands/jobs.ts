/** `switchyard jobs [id]`: one job in detail, or the newest jobs. */
import { formatCredits } from "../../protocol/money.ts";
import { getJob, getNodes, listJobs } from "../../sdk/index.ts";
import { cliClient } from "../client.ts";
import type { Output } from "../output.ts";
import { placementWhy, stagesTable } from "../stage-table.ts";
import { table } from "../table.ts";

export interface JobsOptions {
  readonly coordinator: string;
  readonly id?: string;
  readonly requester?: string;
}

export async function jobs(options: JobsOptions, out: Output): Promise<number> {
  const client = cliClient(options.coordinator);
  if (options.id !== undefined) {
    const [job, nodes] = await Promise.all([getJob(client, { id: options.id }), getNodes(client)]);
    out.result(job, () =>
      [
        `job ${job.id}  ${job.status}  budget ${formatCredits(BigInt(job.budget))}  escrow ${formatCredits(BigInt(job.escrow))}`,
        stagesTable(job, nodes),
        ...job.stages.map((s) => `  ${s.name}: ${placementWhy(s, nodes) || s.failure || ""}`),
      ].join("\n"),
    );
    return 0;
  }
  const list = await listJobs(
    client,
    options.requester === undefined ? {} : { requester: options.requester },
  );
  out.result(list, () =>
    list.length === 0
      ? "no jobs"
      : table(
          ["job", "status", "stages", "budget", "requester"],
          list.map((j) => [
            `${j.id.slice(0, 16)}…`,
            j.status,
            `${j.stages.filter((s) => s.status === "settled").length}/${j.stages.length} settled`,
            formatCredits(BigInt(j.budget)),
            `${j.requester.slice(0, 12)}…`,
          ]),
        ),
  );
  return 0;
}
