/**
 * The canary authority's service (docs/verification.md §9): it plants canaries — stages whose
 * provider, the authority's own node running the adversary (adversary.ts), commits a planted
 * fault — at the governed rate `canaryRatePpm` of the network's commitments, and opens each one
 * once its verdict is in:
 *
 * - the verifier found the fault (its verdict opened a dispute): `revealCanary` with the salt
 *   ends the canary, the verifier is paid, nobody is slashed;
 * - the verifier approved it: `revealCanary` with the true hash at the segment's end (computed
 *   honestly from the planted state there) and Merkle proofs opens a dispute the approver must
 *   win by one referee step, or be slashed and ejected.
 *
 * Before each canary job is submitted, the authority posts its unlinkable commitment
 * H(job ‖ stage ‖ salt); the job id is known in advance (jobIdOf(requester, next nonce)).
 */
import { randomBytes } from "node:crypto";
import { canaryCommitment } from "../core/index.ts";
import type { JobView } from "../protocol/api.ts";
import { toHex } from "../protocol/bytes.ts";
import { checkpointSteps } from "../protocol/checkpoints.ts";
import type { Identity } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { jobIdOf } from "../protocol/hash.ts";
import type { Cid, Hex32 } from "../protocol/ids.ts";
import { merkleProof } from "../protocol/merkle.ts";
import type { StageSpec } from "../protocol/messages.ts";
import { hashStateBytes, parseProgramInput } from "../runtime/program.ts";
import { getProgram, programs } from "../runtime/programs/registry.ts";
import type { Client } from "../sdk/create-client.ts";
import { getAccount, getEvents, getJob, signAndSubmit } from "../sdk/index.ts";
import { fetchBlob } from "./blob-fetch.ts";

export interface CanaryServiceOptions {
  readonly client: Client;
  /** The network's `params.canaryAuthority`: signs the commitments. */
  readonly authority: Identity;
  /** Funds and submits the canary jobs. */
  readonly requester: Identity;
  /** The authority's planted-fault provider: an agent started with `cheat`. */
  readonly provider: { readonly identity: Identity; readonly endpoint: string; readonly city: string };
  /** The stage every canary submits (its name, verification and city are set here). */
  readonly template: StageSpec;
  readonly budget: bigint;
}

export interface Canary {
  readonly jobId: string;
  readonly salt: string;
  outcome?: string;
}

export interface CanaryService {
  /** Plants one canary: commitment first, then the job. */
  plant(): Promise<Canary>;
  /** Opens every planted canary whose verdict is in; returns those that ended. */
  reveal(): Promise<Canary[]>;
  /** Plants as many canaries as the governed rate asks for the commitments sequenced since the last call. */
  plantAtRate(ratePpm: number): Promise<number>;
  readonly canaries: readonly Canary[];
}

const stageName = "canary";

/**
 * A canary service bound to one authority, requester and planted-fault provider.
 *
 * @example
 * const svc = canaryService({ client, authority, requester, provider, template, budget: 1_000_000n });
 * await svc.plant();
 * await svc.reveal();
 */
export function canaryService(options: CanaryServiceOptions): CanaryService {
  const canaries: Canary[] = [];
  let eventCursor = 1;
  let commitsSeen = 0;
  let plantedForRate = 0;
  const { client } = options;

  async function plant(): Promise<Canary> {
    const account = await getAccount(client, { key: options.requester.publicKey });
    const nonce = BigInt(account.nonce) + 1n;
    const jobId = jobIdOf(options.requester.publicKey, nonce);
    const salt = toHex(randomBytes(32));
    await signAndSubmit(client, {
      identity: options.authority,
      type: "canaryCommit",
      body: { commitment: canaryCommitment(jobId, stageName, salt) },
    });
    const stage: StageSpec = {
      ...options.template,
      name: stageName,
      verification: "spot",
      cities: [options.provider.city],
    };
    const { envelope } = await signAndSubmit(client, {
      identity: options.requester,
      type: "submitJob",
      body: { budget: options.budget, stages: [stage] },
    });
    if (envelope.nonce !== nonce) {
      throw new SwitchyardError(
        "ILLEGAL_TRANSITION",
        "the canary requester's nonce moved under the service: give it a key nobody else uses",
      );
    }
    const canary: Canary = { jobId, salt };
    canaries.push(canary);
    return canary;
  }

  async function reveal(): Promise<Canary[]> {
    const ended: Canary[] = [];
    for (const canary of canaries) {
      if (canary.outcome !== undefined) continue;
      const job = await getJob(client, { id: canary.jobId });
      const stage = job.stages.find((s) => s.name === stageName);
      const outcome = stage?.checks?.find((c) => c.outcome.startsWith("canary-"))?.outcome;
      if (outcome !== undefined || job.status === "finished") {
        canary.outcome = outcome ?? stage?.checks?.at(-1)?.outcome ?? stage?.status ?? "finished";
        ended.push(canary);
        continue;
      }
      if (stage?.check === undefined || stage.provider !== options.provider.identity.publicKey) continue;
      if (stage.check.phase === "disputing" || stage.check.phase === "refereeing") {
        if (stage.check.referee !== undefined || (stage.checks ?? []).length > 0) continue;
        await submitReveal(canary, { salt: canary.salt });
      } else if (stage.check.phase === "approved") {
        const proof = await disprove(stage);
        // A planted fault the segment's steps rounded away is no fault: let it settle.
        if (proof.trueHash !== proof.claimed.hash)
          await submitReveal(canary, { salt: canary.salt, ...proof });
      }
    }
    return ended;
  }

  async function submitReveal(canary: Canary, body: Record<string, unknown>): Promise<void> {
    await signAndSubmit(client, {
      identity: options.provider.identity,
      type: "revealCanary",
      body: { jobId: canary.jobId, stage: stageName, ...body } as never,
    }).catch((error: unknown) => {
      // Already revealed, or the check moved on: the next reveal() reads the outcome.
      if (!(error instanceof SwitchyardError && error.code === "ILLEGAL_TRANSITION")) throw error;
    });
  }

  /** The true hash at the end of the approved segment, and proofs of the approved checkpoints. */
  async function disprove(stage: JobView["stages"][number]) {
    if (stage.manifest === undefined)
      throw new SwitchyardError("NOT_FOUND", "the canary has no manifest yet");
    const manifestBytes = await blob(stage.manifest, [options.provider.endpoint]);
    const m = JSON.parse(new TextDecoder().decode(manifestBytes)) as {
      checkpointEvery: number;
      steps: number;
      checkpoints: Hex32[];
      outputHash: Hex32;
      states: Cid[];
    };
    const j = stage.check!.segment!;
    const at = checkpointSteps(m.steps, m.checkpointEvery);
    const program = getProgram(programs, stage.program);
    const input = parseProgramInput(program, options.template.params);
    let state = program.decodeState(await blob(m.states[j]!, [options.provider.endpoint]), input);
    for (let s = at[j]! + 1; s <= at[j + 1]!; s++) state = program.step(state);
    const leaves = [...m.checkpoints, m.outputHash];
    return {
      trueHash: hashStateBytes(program.id, at[j + 1]!, program.encodeState(state)),
      agreed: { hash: leaves[j]!, proof: [...merkleProof(leaves, j)] },
      claimed: { hash: leaves[j + 1]!, proof: [...merkleProof(leaves, j + 1)] },
    };
  }

  async function blob(cid: string, sources: string[]): Promise<Uint8Array> {
    return (await fetchBlob({ cid: cid as Cid, sources })).bytes;
  }

  async function plantAtRate(ratePpm: number): Promise<number> {
    for (;;) {
      const events = await getEvents(client, { from: eventCursor, limit: 1000 });
      if (events.length === 0) break;
      for (const e of events) {
        eventCursor = e.seq + 1;
        if (e.payload.kind === "msg" && e.payload.env.type === "commitResult") commitsSeen++;
      }
    }
    let planted = 0;
    while (Math.floor((commitsSeen * ratePpm) / 1_000_000) > plantedForRate) {
      await plant();
      plantedForRate++;
      planted++;
    }
    return planted;
  }

  return { plant, reveal, plantAtRate, canaries };
}
