/** Names and members of `replicate:k` groups (replication-live.ts), with no dependencies on jobs. */
import type { StageSpec } from "../../protocol/messages.ts";
import type { Job, Stage } from "../state.ts";

/** k of a `replicate:k` policy, or 0. */
export function replicationFactor(spec: StageSpec): number {
  const m = /^replicate:([2-9])$/.exec(spec.verification);
  return m === null ? 0 : Number(m[1]);
}

/** The replica specs a `replicate:k` stage adds: `<name>~2` … `<name>~k`. */
export function replicaSpecs(spec: StageSpec): StageSpec[] {
  const k = replicationFactor(spec);
  const out: StageSpec[] = [];
  for (let i = 2; i <= k; i++) out.push({ ...spec, name: `${spec.name}~${i}` });
  return out;
}

/** The names of a group's members, primary first. */
export function groupMembers(primary: string, k: number): string[] {
  return [primary, ...Array.from({ length: k - 1 }, (_, i) => `${primary}~${i + 2}`)];
}

/** Providers holding (or that held and committed) the other members of `stage`'s group. */
export function groupProviders(job: Job, stage: Stage): Set<string> {
  const out = new Set<string>();
  const r = stage.replication;
  if (r === undefined) return out;
  for (const name of groupMembers(r.group, r.k)) {
    const other = job.stages.get(name);
    if (other === undefined || other === stage || other.provider === undefined) continue;
    out.add(other.provider);
  }
  return out;
}
