/** `switchyard audit`: replay a stored log and verify chain, signatures, invariants and state hash. */

import { eventStoreOf } from "../../coordinator/options.ts";
import { nodeEd25519 } from "../../protocol/ed25519.node.ts";
import { auditStore } from "../../store/audit.ts";
import type { Output } from "../output.ts";
import { describeStoreSpec } from "../store-spec.ts";

export interface AuditOptions {
  readonly store: string;
  /** The state hash a receipt or a status page claimed; the audit fails if the replay differs. */
  readonly expect?: string;
  /** The seq `expect` was acknowledged at (`switchyard status` shows both); default the log's end. */
  readonly at?: number;
}

export async function audit(options: AuditOptions, out: Output): Promise<number> {
  const store = eventStoreOf(options.store);
  out.progress(`auditing ${describeStoreSpec(options.store)}…`);
  await store.open();
  try {
    const expected =
      options.expect === undefined
        ? undefined
        : options.at === undefined
          ? (options.expect as never)
          : { seq: options.at, stateHash: options.expect as never };
    const report = await auditStore(store, nodeEd25519, expected);
    out.result(report, () =>
      report.ok
        ? `audit OK: ${report.events} events, ${report.signatures} signatures valid, invariants hold${report.snapshotChecked ? ", snapshot matches" : ""}${report.checkedAt === undefined ? "" : `, state at seq ${report.checkedAt.seq} = the expected hash`}\nstate hash ${report.stateHash}`
        : `audit FAILED at seq ${report.error?.seq ?? "?"}: ${report.error?.code}: ${report.error?.message}`,
    );
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}
