/**
 * The seeded simulation of the core: providers and requesters issue random valid and invalid
 * commands against the real state machine on a simulated clock. After every event the full
 * invariants are checked; after every rejection the state hash must be unchanged. The same seed
 * always produces the same run and the same final state hash.
 */
import { checkAllInvariants, stateHash } from "../core/index.ts";
import { type Envelope, signEnvelope } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32, JobId } from "../protocol/ids.ts";
import type { StoredEvent } from "../protocol/log.ts";
import type { StageSpec } from "../protocol/messages.ts";
import { onboardProviders, type SimProvider, worldProviders } from "./fixtures.ts";
import { LocalNetwork, simIdentity } from "./local-network.ts";
import { SimRandom } from "./random.ts";

export interface SimulationOptions {
  readonly seed: number;
  readonly events: number;
  /** Check every invariant over the whole state after every event (slower, always on in tests). */
  readonly fullChecks?: boolean;
  /** Hash the state around every rejected event to prove it changed nothing (O(state) per event). */
  readonly checkRejections?: boolean;
}

export interface SimulationReport {
  readonly seed: number;
  readonly events: number;
  readonly accepted: number;
  readonly rejected: Readonly<Record<string, number>>;
  readonly settledStages: number;
  readonly stateHash: Hex32;
  readonly log: readonly StoredEvent[];
  /** State hashes sampled during the run, to compare with replays of the log prefix. */
  readonly samples: ReadonlyArray<{ readonly seq: number; readonly stateHash: Hex32 }>;
}

/** Thrown with the seed in the message, so a failure can be replayed with SIM_SEED=<seed>. */
export class SimulationFailure extends Error {
  override readonly name = "SimulationFailure";
  constructor(
    readonly seed: number,
    readonly step: number,
    cause: unknown,
  ) {
    super(
      `simulation seed ${seed} failed at step ${step}: ${(cause as Error).message} — replay with SIM_SEED=${seed}`,
      {
        cause,
      },
    );
  }
}

const programs = ["mlp-train", "mlp-eval", "qaoa-maxcut", "qaoa-optimizer"];
const classes = ["gpu", "cpu", "qpu"];
const jurisdictionChoices: Array<string[] | undefined> = [
  undefined,
  ["EU"],
  ["SG"],
  ["US"],
  ["JP"],
  ["EU", "US"],
];

function randomStages(rng: SimRandom): StageSpec[] {
  const n = 1 + rng.int(4);
  const stages: StageSpec[] = [];
  for (let i = 0; i < n; i++) {
    const after = i > 0 && rng.chance(0.6) ? [`s${rng.int(i)}`] : [];
    // Now and then a cycle or a dangling dependency: the machine must refuse the whole job.
    if (rng.chance(0.03)) after.push(rng.chance(0.5) ? `s${i}` : "missing");
    const jurisdictions = rng.pick(jurisdictionChoices);
    stages.push({
      name: `s${i}`,
      program: rng.pick(programs),
      params: {},
      resourceClass: rng.pick(classes),
      units: 1 + rng.int(4),
      seconds: 1 + rng.int(120),
      maxPricePerUnitSecond: BigInt(1 + rng.int(2_000)),
      after,
      inputs: [],
      verification: "none",
      ...(jurisdictions === undefined ? {} : { jurisdictions }),
    });
  }
  return stages;
}

export function runSimulation(options: SimulationOptions): SimulationReport {
  const { seed } = options;
  const rng = new SimRandom(seed);
  const net = new LocalNetwork({
    net: "sim",
    params: { verificationWindowMs: 2_000, startDeadlineMs: 5_000 },
  });
  const providers: readonly SimProvider[] = worldProviders;
  onboardProviders(net, providers);
  const requesters = [simIdentity("alice"), simIdentity("bob"), simIdentity("carol")];
  const everyone = [...requesters, ...providers.map((p) => p.who)];
  const seen: Envelope[] = [];
  const rejected: Record<string, number> = {};
  let accepted = 0;
  const samples: Array<{ seq: number; stateHash: Hex32 }> = [];

  const stagesIn = (status: string): Array<{ job: JobId; name: string; provider?: string }> => {
    const out: Array<{ job: JobId; name: string; provider?: string }> = [];
    for (const job of net.state.jobs.values()) {
      for (const [name, s] of job.stages) {
        if (s.status === status)
          out.push({ job: job.id, name, ...(s.provider ? { provider: s.provider } : {}) });
      }
    }
    return out;
  };

  const nextEnvelope = (): Envelope | "tick" => {
    const roll = rng.int(100);
    const who = rng.pick(everyone);
    const requester = rng.pick(requesters);
    if (roll < 12) return "tick";
    if (roll < 20) return net.sign(requester, "faucet", { amount: BigInt(1 + rng.int(50_000_000)) });
    if (roll < 30)
      return net.sign(who, "transfer", {
        to: rng.pick(everyone).publicKey,
        amount: rng.bigint(300_000_000n) + 1n,
      });
    if (roll < 34) return net.sign(who, "bond", { amount: rng.bigint(20_000_000n) + 1n });
    if (roll < 38) return net.sign(who, "unbond", { amount: rng.bigint(20_000_000n) + 1n });
    if (roll < 40) return net.sign(who, "withdrawUnbonded", {});
    if (roll < 55)
      return net.sign(requester, "submitJob", {
        stages: randomStages(rng),
        budget: rng.bigint(60_000_000n) + 1n,
      });
    const running = stagesIn("running");
    const matched = stagesIn("matched");
    const committed = stagesIn("committed");
    const byProvider = (s: { provider?: string }) =>
      // Usually the assigned provider; sometimes an impostor, which must be refused.
      rng.chance(0.9) ? (providers.find((p) => p.who.publicKey === s.provider)?.who ?? who) : who;
    if (roll < 67 && matched.length > 0) {
      const s = rng.pick(matched);
      return net.sign(byProvider(s), "startStage", { jobId: s.job, stage: s.name });
    }
    if (roll < 79 && running.length > 0) {
      const s = rng.pick(running);
      const root = rng.nextU32().toString(16).padStart(8, "0").repeat(8);
      return net.sign(byProvider(s), "commitResult", {
        jobId: s.job,
        stage: s.name,
        root,
        output: root,
        steps: rng.int(100),
      });
    }
    if (roll < 84 && committed.length > 0) {
      const s = rng.pick(committed);
      const job = net.state.jobs.get(s.job)!;
      const signer = rng.chance(0.8) ? (requesters.find((r) => r.publicKey === job.requester) ?? who) : who;
      return net.sign(signer, "acceptStage", { jobId: s.job, stage: s.name });
    }
    if (roll < 87 && net.state.jobs.size > 0) {
      const job = rng.pick([...net.state.jobs.values()]);
      return net.sign(rng.chance(0.7) ? requester : who, "cancelJob", { jobId: job.id });
    }
    // Hostile traffic: a replayed envelope, a wrong network, a forged signature.
    if (roll < 92 && seen.length > 0) return rng.pick(seen);
    if (roll < 95) return signEnvelope(net.ed, who, "other-net", 1n << 40n, "faucet", { amount: 5n });
    const genuine = net.sign(who, "faucet", { amount: 7n });
    return {
      ...genuine,
      sig: genuine.sig.startsWith("0") ? `1${genuine.sig.slice(1)}` : `0${genuine.sig.slice(1)}`,
    };
  };

  let step = 0;
  try {
    for (; step < options.events; step++) {
      net.advance(rng.int(1_500));
      const next = nextEnvelope();
      const checkRejection = options.checkRejections ?? true;
      const before = checkRejection ? stateHash(net.state) : undefined;
      const outcome = next === "tick" ? net.tick() : net.submit(next);
      if (outcome.ok) {
        accepted++;
        if (next !== "tick") seen.push(next);
      } else {
        rejected[outcome.error.code] = (rejected[outcome.error.code] ?? 0) + 1;
        if (checkRejection && stateHash(net.state) !== before) {
          throw new SwitchyardError(
            "INVARIANT_VIOLATED",
            `rejected ${outcome.error.code} changed the state hash`,
          );
        }
      }
      if (options.fullChecks ?? true) checkAllInvariants(net.state);
      if (step % 400 === 399) samples.push({ seq: net.state.seq, stateHash: stateHash(net.state) });
    }
  } catch (cause) {
    throw new SimulationFailure(seed, step, cause);
  }
  let settledStages = 0;
  for (const job of net.state.jobs.values())
    for (const s of job.stages.values()) if (s.status === "settled") settledStages++;
  return {
    seed,
    events: options.events,
    accepted,
    rejected,
    settledStages,
    stateHash: stateHash(net.state),
    log: net.log,
    samples,
  };
}
