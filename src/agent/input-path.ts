/**
 * How a provider (or a verifier) gets a sealed job's stage output as its input (docs/routing.md
 * "Sealed outputs and relayed inputs"): the producer served only the output sealed under the
 * producing stage's output key, so the bytes may travel through a relay, which sees ciphertext.
 * The path is the router's choice (core/routing/relay-path.ts `choosePath`, through
 * `fetchSealedBlob`): direct from the producer, or through a relay when that is predicted faster,
 * and the next best path when one fails (resilient overlay routing). The prediction uses the
 * coordinator's RTT between the registered nodes (network coordinates, or geography), each node's
 * reported uplink, the producer's egress price and the relays' prices — except for a path this
 * agent has measured, which is predicted by what it delivered (path-meter.ts). If every path fails,
 * the agents that may hold a copy are asked directly.
 *
 * Inputs of jobs that are not sealed, and inputs the requester declared, keep the direct fetch in
 * stage-work.ts: a relay forwards only sealed bytes.
 */
import { defaultUplinkBytesPerSecond } from "../core/routing/effective-cost.ts";
import { bandwidthFee, type Hop } from "../core/routing/relay-path.ts";
import type { InputSource, JobView, NodeView } from "../protocol/api.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import type { Cid, PublicKeyHex } from "../protocol/ids.ts";
import { openBlob } from "../protocol/job-crypto.node.ts";
import { getJob, getNodes, getRtt } from "../sdk/index.ts";
import { fetchBlob } from "./blob-fetch.ts";
import { measuredHops, pathName } from "./path-meter.ts";
import type { ProviderContext } from "./provider-context.ts";
import { type FetchSealedResult, fetchSealedBlob, type RelayEndpoint } from "./relay-fetch.ts";
import { outputSealFor } from "./stage-seal.ts";
import type { FetchedInput } from "./stage-work.ts";

export interface InputFetcherOptions {
  readonly jobId: string;
  /** Until when to wait for the output keys. */
  readonly deadline: number;
  /** The job as last read: whether it is sealed (the key wait re-reads it). */
  readonly job: JobView;
  /** Who reads the input, for the events: the stage this agent works on. */
  readonly stage: string;
}

/**
 * A `fetchInput` hook for stage-work.ts: for a sealed job's stage output, the plaintext fetched over
 * the chosen path and opened with the output key; undefined (the direct fetch) otherwise.
 *
 * @example
 * const fetchInput = sealedInputFetcher(ctx, { jobId, deadline, job, stage: "evaluate" });
 * await runStage(assignment, { ...options, fetchInput });
 */
export function sealedInputFetcher(
  ctx: ProviderContext,
  options: InputFetcherOptions,
): ((input: InputSource) => Promise<FetchedInput | undefined>) | undefined {
  if (options.job.sealed !== true) return undefined;
  return async (input) => {
    if (input.stage === undefined) return undefined;
    const seal = await outputSealFor(ctx, options.jobId, input.stage, options.deadline, options.job);
    if (seal === undefined) return undefined;
    const cid = input.cid as Cid;
    const open = (sealed: Uint8Array) => openBlob(seal.key, seal, sealed);
    if (await ctx.blobs.has(cid)) {
      try {
        return { bytes: open(await ctx.blobs.get(cid)), report: { cid, local: true } };
      } catch {
        // A rotten or foreign local copy: fetch it again below.
      }
    }
    const nodes = await getNodes(ctx.client);
    let result: FetchSealedResult | undefined;
    if (input.from !== undefined && input.producer !== undefined) {
      try {
        result = await fetchSealedBlob({
          cid,
          jobId: seal.jobId,
          stage: seal.stage,
          origin: input.from,
          bytes: input.bytes ?? 0,
          ...(await pathHops(ctx, nodes, await getJob(ctx.client, { id: options.jobId }), input)),
          key: seal.key,
          store: ctx.blobs,
          fetch: ctx.fetch,
          signal: ctx.signal,
        });
      } catch (error) {
        if (ctx.signal.aborted || !isSwitchyardError(error)) throw error;
        // Every path failed: ask the agents that may hold a copy, as for any input.
      }
    }
    if (result !== undefined) {
      const { bytesReceived, ms } = result.transfer;
      ctx.paths.record(pathName(input.producer!, result.path.relay), bytesReceived, ms);
      ctx.emit({
        type: "inputPath",
        jobId: options.jobId,
        stage: options.stage,
        input: input.stage,
        cid,
        path: result.path,
        plan: result.plan,
        attempts: result.attempts,
      });
      return { bytes: result.plaintext!, report: result.transfer, path: result.path };
    }
    const sources = [
      ...(input.from === undefined ? [] : [input.from]),
      ...nodes
        .filter((n) => n.id !== ctx.me && n.endpoint !== undefined && n.endpoint !== input.from)
        .map((n) => n.endpoint!),
    ];
    const got = await fetchBlob({ cid, sources, store: ctx.blobs, fetch: ctx.fetch, signal: ctx.signal });
    return { bytes: open(got.bytes), report: got };
  };
}

/**
 * The direct hop from the producer and every relay's two hops, as the coordinator predicts them: RTT
 * from network coordinates (or geography), bandwidth the slower end's reported uplink (the core's
 * default when a node reported none), the producer's egress price on the hops it sends, and each
 * relay's forwarding price from its offer. A relay is any registered node of class `relay` with an
 * endpoint (not this node, not the producer) whose fee for these bytes, with the egress, fits in what
 * is left of the job's transfer budget: a relay the budget cannot pay is not asked to work.
 */
async function pathHops(
  ctx: ProviderContext,
  nodes: readonly NodeView[],
  job: JobView,
  input: InputSource,
): Promise<{ direct: Hop; relays: RelayEndpoint[] }> {
  const producer = input.producer as PublicKeyHex;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const egress = BigInt(job.stages.find((s) => s.name === input.stage)?.egressPricePerGigabyte ?? "0");
  const left = BigInt(job.transferBudget ?? "0") - BigInt(job.transferPaid ?? "0");
  const bytes = input.bytes ?? 0;
  const hop = async (from: string, to: string, pricePerGigabyte: bigint): Promise<Hop> => ({
    rttMs: (await getRtt(ctx.client, { from, to })).rttMs,
    bytesPerSecond: Math.min(uplinkOf(byId.get(from)), uplinkOf(byId.get(to))),
    pricePerGigabyte,
  });
  // A path this agent measured is predicted by its measurement, not by the model (path-meter.ts).
  const measured = (relay: string | undefined, hops: 1 | 2) => {
    const rate = ctx.paths.bytesPerSecond(pathName(producer, relay));
    return rate === undefined ? undefined : measuredHops(rate, hops);
  };
  // The coordinator is asked for every hop at once: a relay adds two predictions, not two round trips.
  const relays = nodes.flatMap((n) => {
    if (n.resourceClass !== "relay" || n.endpoint === undefined || n.id === ctx.me || n.id === producer)
      return [];
    const offer = n.offers.find((o) => o.active && o.resourceClass === "relay");
    if (offer === undefined) return [];
    const price = BigInt(offer.pricePerGigabyte ?? "0");
    if (bandwidthFee(bytes, price) + bandwidthFee(bytes, egress) > left) return [];
    return [{ node: n, url: n.endpoint, price }];
  });
  const [direct, ...relayed] = await Promise.all([
    measured(undefined, 1)?.[0] ?? hop(producer, ctx.me, egress),
    ...relays.map(async ({ node, url, price }): Promise<RelayEndpoint> => {
      const seen = measured(node.id, 2);
      const [fromSource, toDestination] = await Promise.all([
        seen?.[0] ?? hop(producer, node.id, egress),
        seen?.[1] ?? hop(node.id, ctx.me, 0n),
      ]);
      return {
        id: node.id,
        url,
        fromSource: { ...fromSource, pricePerGigabyte: egress },
        toDestination,
        pricePerGigabyte: price,
      };
    }),
  ]);
  return { direct: { ...direct!, pricePerGigabyte: egress }, relays: relayed };
}

function uplinkOf(node: NodeView | undefined): number {
  return node?.bytesPerSecond ?? defaultUplinkBytesPerSecond;
}
