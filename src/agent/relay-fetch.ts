/**
 * Fetching a sealed stage output over the best path (resilient overlay routing): direct from the
 * producer's blob server, or through a relay when one is predicted faster; when a path fails, the
 * next by the same rule (core/routing/relay-path.ts `choosePath`) — after a failed direct path, the
 * best relay that has not failed. Whichever way it came, the blob is checked chunk by chunk and
 * against its cid (fetchBlob), and it must be shaped like a sealed blob. It is opened only when the
 * caller holds the stage key, which the key-release rule gives only to providers inside the stage's
 * jurisdictions; without it the result is ciphertext, and nothing else.
 */
import {
  choosePath,
  type Hop,
  type PathChoice,
  type PathEstimate,
  type RelayOption,
} from "../core/routing/relay-path.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { Cid, JobId } from "../protocol/ids.ts";
import { openBlob, readSealedHeader, type StageKey } from "../protocol/job-crypto.node.ts";
import { type FetchBlobOptions, type FetchBlobResult, fetchBlob } from "./blob-fetch.ts";
import { relayUrls } from "./relay.ts";

/** A relay the receiver may use: where it is served, and the predicted hops and price for choosePath. */
export interface RelayEndpoint extends RelayOption {
  readonly url: string;
}

export interface FetchSealedOptions extends Omit<FetchBlobOptions, "sources" | "urls"> {
  readonly jobId: JobId;
  /** The stage whose output this is: its key opens it, and it is bound into every chunk. */
  readonly stage: string;
  /** The producer's blob server (its registered endpoint). */
  readonly origin: string;
  /** Expected size of the sealed blob, for the prediction. */
  readonly bytes: number;
  /** Predicted direct path to the origin; absent when none is known (relays only). */
  readonly direct?: Hop;
  readonly relays: readonly RelayEndpoint[];
  /** Rank paths by time value + fees rather than time alone (micro-credits per second). */
  readonly valueOfTimePerSecond?: number;
  /** The stage key, if this agent was given one: then the plaintext is returned too. */
  readonly key?: StageKey;
}

export interface PathAttempt {
  readonly path: PathEstimate;
  /** Why this path failed; absent for the one that delivered. */
  readonly error?: { readonly code: string; readonly message: string };
}

export interface FetchSealedResult {
  readonly cid: Cid;
  readonly sealed: Uint8Array;
  /** Present only when a stage key was given. */
  readonly plaintext?: Uint8Array;
  /** The path that delivered. */
  readonly path: PathEstimate;
  /** The first choice and its runner-up: why that path was tried first. */
  readonly plan: PathChoice;
  /** Every path tried, in order, with the error of each that failed. */
  readonly attempts: readonly PathAttempt[];
  readonly transfer: FetchBlobResult;
}

/**
 * Fetch a sealed stage output by the best path, falling back to relays, and open it if `key` is given.
 *
 * @throws SwitchyardError the most telling failure once every path failed (CORRUPTED, then
 *   UNREACHABLE or another code, then NOT_FOUND), with every attempt in `details`; CORRUPTED when
 *   the blob is not sealed or does not open with `key`.
 * @example
 * const { plaintext, path } = await fetchSealedBlob({
 *   cid, jobId, stage: "train", origin: input.from, bytes: 8_000_000,
 *   direct: { rttMs: 20, bytesPerSecond: 12_500_000 }, relays: [zurich], key, store: blobs,
 * });
 */
export async function fetchSealedBlob(options: FetchSealedOptions): Promise<FetchSealedResult> {
  const { jobId, stage, origin, bytes, direct, relays, valueOfTimePerSecond, key, ...transfer } = options;
  const urls = new Map(relays.map((r) => [r.id, r.url]));
  const attempts: PathAttempt[] = [];
  const failures: SwitchyardError[] = [];
  const failedRelays: string[] = [];
  let directFailed = false;
  let plan: PathChoice | undefined;
  for (;;) {
    let choice: PathChoice;
    try {
      choice = choosePath({
        bytes,
        relays,
        directFailed,
        failedRelays,
        ...(direct === undefined ? {} : { direct }),
        ...(valueOfTimePerSecond === undefined ? {} : { valueOfTimePerSecond }),
      });
    } catch (error) {
      if (failures.length === 0 || !isSwitchyardError(error, "UNREACHABLE")) throw error;
      throw everyPathFailed(options.cid, attempts, failures);
    }
    plan ??= choice;
    const path = choice.chosen;
    let result: FetchBlobResult;
    try {
      result =
        path.kind === "direct"
          ? await fetchBlob({ ...transfer, sources: [origin] })
          : await fetchBlob({
              ...transfer,
              sources: [urls.get(path.relay!)!],
              urls: relayUrls(origin, jobId),
            });
    } catch (error) {
      if (options.signal?.aborted || !isSwitchyardError(error)) throw error;
      failures.push(error);
      attempts.push({ path, error: { code: error.code, message: error.message } });
      if (path.kind === "direct") directFailed = true;
      else failedRelays.push(path.relay!);
      continue;
    }
    attempts.push({ path });
    readSealedHeader(result.bytes);
    const plaintext = key === undefined ? undefined : openBlob(key, { jobId, stage }, result.bytes);
    return {
      cid: options.cid,
      sealed: result.bytes,
      ...(plaintext === undefined ? {} : { plaintext }),
      path,
      plan,
      attempts,
      transfer: result,
    };
  }
}

function everyPathFailed(
  cid: Cid,
  attempts: readonly PathAttempt[],
  failures: readonly SwitchyardError[],
): SwitchyardError {
  const pick =
    failures.find((f) => f.code === "CORRUPTED") ??
    failures.find((f) => f.code !== "NOT_FOUND") ??
    failures[0]!;
  const tried = attempts
    .map((a) => (a.path.kind === "direct" ? "direct" : `relay ${a.path.relay}`))
    .join(", ");
  return new SwitchyardError(
    pick.code,
    `blob ${cid.slice(0, 12)}…: every path failed (${tried}); last: ${pick.message}`,
    {
      details: { cid, attempts: attempts.map((a) => ({ path: a.path.relay ?? "direct", ...a.error })) },
      cause: pick,
    },
  );
}
