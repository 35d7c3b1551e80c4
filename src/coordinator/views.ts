/**
 * Read views of the core state, shaped exactly as the API schemas in src/protocol/api.ts. Pure
 * functions of the state (plus, where a view shows something outside the replicated state, such as
 * a node's last-seen time, that value passed in): no I/O, no clock, so a test can check a view
 * against its schema and against the state it came from.
 */

import { z } from "zod";
import {
  accounts,
  balanceOf,
  type Job,
  type Progress,
  predictRtt,
  type Stage,
  type State,
} from "../core/index.ts";
import type {
  Account,
  JobView,
  Market,
  NodeView,
  RttPredictionView,
  Status,
  stageViewSchema,
} from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { Hex32, PublicKeyHex } from "../protocol/ids.ts";
import { paramsSchema } from "../protocol/params.ts";
import { regionOf } from "../protocol/regions.ts";
import type { LogHead } from "../store/event-store.ts";

type StageView = z.infer<typeof stageViewSchema>;

/** Most jobs one list returns (api.ts: newest first, ≤ 100). */
export const jobListLimit = 100;

/** What the status view needs beyond the state. */
export interface StatusContext {
  readonly coordinator: PublicKeyHex;
  readonly head: LogHead;
  readonly stateHash: Hex32;
  readonly store: string;
  readonly leader: boolean;
}

/** GET /v1/status. `head` and `stateHash` must describe the same state as `state`. */
export function statusView(state: State, context: StatusContext): Status {
  return {
    net: state.net ?? "",
    coordinator: context.coordinator,
    seq: context.head.seq,
    head: context.head.hash,
    time: state.time,
    stateHash: context.stateHash,
    // The wire form: amounts as decimal strings, like every other amount in the API.
    params: z.encode(paramsSchema, state.params) as Status["params"],
    store: context.store,
    leader: context.leader,
  };
}

/** GET /v1/nodes: every registered node with its offers, in registration order. */
export function nodeViews(state: State, lastSeen: (node: PublicKeyHex) => number | undefined): NodeView[] {
  const offersByNode = new Map<string, NodeView["offers"]>();
  for (const offer of state.offers.values()) {
    const list = offersByNode.get(offer.provider) ?? [];
    list.push({
      id: offer.id,
      resourceClass: offer.resourceClass,
      capacity: offer.capacity,
      used: offer.used,
      pricePerUnitSecond: offer.pricePerUnitSecond.toString(),
      ...(offer.pricePerGigabyte === undefined
        ? {}
        : { pricePerGigabyte: offer.pricePerGigabyte.toString() }),
      active: offer.active,
    });
    offersByNode.set(offer.provider, list);
  }
  return [...state.nodes.values()].map((node) => {
    const seen = lastSeen(node.id);
    return {
      id: node.id,
      name: node.name,
      city: node.city,
      country: node.country,
      jurisdictions: [...node.jurisdictions],
      latE6: node.latE6,
      lonE6: node.lonE6,
      resourceClass: node.resourceClass,
      capacity: node.capacity,
      throughput: node.throughput,
      ...(node.endpoint === undefined ? {} : { endpoint: node.endpoint }),
      ...(node.bytesPerSecond === undefined ? {} : { bytesPerSecond: node.bytesPerSecond }),
      stake: balanceOf(state, accounts.staked(node.id)).toString(),
      openStages: node.openStages,
      offers: offersByNode.get(node.id) ?? [],
      ...(seen === undefined ? {} : { lastSeen: seen }),
      ...(node.coordinate === undefined
        ? {}
        : { coordinate: { ...node.coordinate, vectorUs: [...node.coordinate.vectorUs] } }),
    };
  });
}

/**
 * GET /v1/rtt: the predicted round trip between two registered nodes (`predictRtt`: their reported
 * coordinates, else geography). UNKNOWN_NODE names the end that is not registered.
 */
export function rttView(state: State, from: PublicKeyHex, to: PublicKeyHex): RttPredictionView {
  const node = (key: PublicKeyHex, end: string) => {
    const found = state.nodes.get(key);
    if (found === undefined) {
      throw new SwitchyardError("UNKNOWN_NODE", `no node ${key.slice(0, 12)}… (${end}) is registered`, {
        details: { [end]: key },
      });
    }
    return found;
  };
  return { from, to, ...predictRtt(node(from, "from"), node(to, "to")) };
}

/**
 * GET /v1/market: active offers grouped per (resource class, region), with total and used
 * capacity, the lowest price and the median price, and the published price index per (class,
 * region) from the state. The median of an even number of prices is the mean of the two middle
 * ones, rounded down to a whole micro-credit. Both lists are sorted by class, then region.
 */
export function marketView(state: State): Market {
  const groups = new Map<
    string,
    {
      resourceClass: string;
      region: string;
      prices: bigint[];
      capacity: number;
      used: number;
      /** Lowest price per 10^9 bytes (absent counts as 0), once an offer of the group set one. */
      perGigabyte: { min: bigint; set: boolean };
    }
  >();
  for (const offer of state.offers.values()) {
    if (!offer.active) continue;
    const node = state.nodes.get(offer.provider);
    const region = node === undefined ? "unknown" : regionOf(node.country);
    const key = `${offer.resourceClass}\u0000${region}`;
    const group = groups.get(key) ?? {
      resourceClass: offer.resourceClass,
      region,
      prices: [],
      capacity: 0,
      used: 0,
      perGigabyte: { min: offer.pricePerGigabyte ?? 0n, set: false },
    };
    group.prices.push(offer.pricePerUnitSecond);
    const perGigabyte = offer.pricePerGigabyte ?? 0n;
    if (perGigabyte < group.perGigabyte.min) group.perGigabyte.min = perGigabyte;
    if (offer.pricePerGigabyte !== undefined) group.perGigabyte.set = true;
    group.capacity += offer.capacity;
    group.used += offer.used;
    groups.set(key, group);
  }
  const classes = [...groups.values()].map((g) => {
    const prices = g.prices.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const mid = prices.length >> 1;
    const median = prices.length % 2 === 1 ? prices[mid]! : (prices[mid - 1]! + prices[mid]!) / 2n;
    return {
      resourceClass: g.resourceClass,
      region: g.region,
      offers: prices.length,
      capacity: g.capacity,
      used: g.used,
      minPrice: prices[0]!.toString(),
      medianPrice: median.toString(),
      ...(g.perGigabyte.set ? { minPricePerGigabyte: g.perGigabyte.min.toString() } : {}),
    };
  });
  classes.sort((a, b) => compare(a.resourceClass, b.resourceClass) || compare(a.region, b.region));
  const priceIndex = [...state.priceIndex.entries.values()].map((r) => ({
    resourceClass: r.resourceClass,
    region: r.region,
    index: r.index.toString(),
    utilizationBps: r.utilizationBps,
    updatedAt: r.updatedAt,
  }));
  priceIndex.sort((a, b) => compare(a.resourceClass, b.resourceClass) || compare(a.region, b.region));
  return { classes, priceIndex };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A progress record without its hash list (the assignment of a resuming provider carries that). */
function progressView(p: Progress): NonNullable<StageView["progress"]> {
  const { by, index, step, steps, checkpointEvery, hash, state, at } = p;
  return { provider: by, index, step, steps, checkpointEvery, hash, state, at };
}

function stageView(stage: Stage): StageView {
  const { spec } = stage;
  const optional = {
    provider: stage.provider,
    pricePerUnitSecond: stage.price?.toString(),
    deadline: stage.deadline,
    runDeadline: stage.runDeadline,
    root: stage.root,
    output: stage.output,
    outputBytes: stage.outputBytes,
    steps: stage.steps,
    manifest: stage.manifest,
    paid: stage.paid?.toString(),
    fee: stage.fee?.toString(),
    failure: stage.failure,
    latency: spec.latency,
    loop: spec.loop,
    verification: spec.verification,
    check:
      stage.check === undefined
        ? undefined
        : {
            phase: stage.check.phase,
            ...definedOnly({
              ratePpm: stage.check.ratePpm,
              segment: stage.check.segment,
              verifier: stage.check.verifier,
              referee: stage.check.referee,
              rounds: stage.check.dispute?.rounds,
            }),
          },
    checks: stage.checks?.map((c) => ({
      ...c,
      fee: c.fee.toString(),
      slashed: c.slashed.map((x) => ({ who: x.who, amount: x.amount.toString() })),
    })),
    placement:
      stage.placement === undefined
        ? undefined
        : {
            candidates: stage.placement.candidates,
            eligible: stage.placement.eligible,
            excluded: { ...stage.placement.excluded },
            ...(stage.placement.bounded === undefined ? {} : { bounded: stage.placement.bounded }),
            ...(stage.placement.failurePpm === undefined ? {} : { failurePpm: stage.placement.failurePpm }),
            ...(stage.placement.cost === undefined ? {} : { cost: { ...stage.placement.cost } }),
            ...(stage.placement.runnerUp === undefined
              ? {}
              : {
                  runnerUp: {
                    offerId: stage.placement.runnerUp.offerId,
                    provider: stage.placement.runnerUp.provider,
                    price: stage.placement.runnerUp.price.toString(),
                    ...(stage.placement.runnerUp.failurePpm === undefined
                      ? {}
                      : { failurePpm: stage.placement.runnerUp.failurePpm }),
                    ...(stage.placement.runnerUp.cost === undefined
                      ? {}
                      : { cost: { ...stage.placement.runnerUp.cost } }),
                  },
                }),
            ...(stage.placement.planned === undefined ? {} : { planned: stage.placement.planned }),
            ...(stage.placement.plan === undefined ? {} : { plan: { ...stage.placement.plan } }),
          },
    noMatch:
      stage.noMatch === undefined
        ? undefined
        : {
            candidates: stage.noMatch.candidates,
            excluded: { ...stage.noMatch.excluded },
            sample: stage.noMatch.sample.map((s) => ({ offerId: s.offerId, reason: s.reason })),
          },
    progress: stage.progress === undefined ? undefined : progressView(stage.progress),
    resumeFrom: stage.resumeFrom === undefined ? undefined : progressView(stage.resumeFrom),
    handoffs: stage.handoffs?.map((h) => ({ ...h })),
    payouts: stage.payouts?.map((p) => ({ ...p, amount: p.amount.toString() })),
    jurisdictions: spec.jurisdictions === undefined ? undefined : [...spec.jurisdictions],
    keys: stage.keys?.map((k) => ({ ...k })),
    outputKeys: stage.outputKeys?.map((k) => ({ ...k })),
    egressPricePerGigabyte: stage.egressPricePerGigabyte?.toString(),
    transfers: stage.transfers?.map((t) => ({
      ...t,
      egressFee: t.egressFee.toString(),
      relayFee: t.relayFee.toString(),
    })),
  };
  return {
    name: spec.name,
    program: spec.program,
    status: stage.status,
    resourceClass: spec.resourceClass,
    units: spec.units,
    seconds: spec.seconds,
    after: [...spec.after],
    attempts: stage.attempts,
    ...definedOnly(optional),
  };
}

/** Drop undefined fields: an absent optional field is absent on the wire, not `null`. */
export function definedOnly<T extends Record<string, unknown>>(
  fields: T,
): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}

/** GET /v1/jobs/:id. */
export function jobView(state: State, job: Job): JobView {
  return {
    id: job.id,
    requester: job.requester,
    budget: job.budget.toString(),
    submittedAt: job.submittedAt,
    ...(job.sealed === true ? { sealed: true } : {}),
    status: job.status,
    ...(job.refund === undefined ? {} : { refund: job.refund.toString() }),
    ...(job.transferBudget === undefined ? {} : { transferBudget: job.transferBudget.toString() }),
    ...(job.transferPaid === undefined ? {} : { transferPaid: job.transferPaid.toString() }),
    escrow: balanceOf(state, accounts.escrow(job.id)).toString(),
    stages: [...job.stages.values()].map(stageView),
  };
}

/** GET /v1/jobs: newest first, at most `jobListLimit`, optionally only one requester's. */
export function jobViews(state: State, requester?: string): JobView[] {
  const jobs = [...state.jobs.values()];
  const out: JobView[] = [];
  for (let i = jobs.length - 1; i >= 0 && out.length < jobListLimit; i--) {
    const job = jobs[i]!;
    if (requester === undefined || job.requester === requester) out.push(jobView(state, job));
  }
  return out;
}

/** GET /v1/accounts/:key. Every key has an account: a new identity's is all zeros with nonce 0. */
export function accountView(state: State, key: PublicKeyHex): Account {
  return {
    key,
    available: balanceOf(state, accounts.available(key)).toString(),
    staked: balanceOf(state, accounts.staked(key)).toString(),
    unbonding: balanceOf(state, accounts.unbondingAccount(key)).toString(),
    nonce: (state.nonces.get(key) ?? 0n).toString(),
  };
}
