/**
 * Emulated wide-area latency for local networks. `switchyard up` / `demo` run every process on one
 * machine but place each provider in a real city; messages and transfers between two local
 * processes are then held back by the *modelled* round-trip time between their cities
 * (`predictRttMs`, src/protocol/geo.ts), so placement, timeouts and progress behave roughly as they
 * would across the world. Nothing here measures a network: every delay is emulated, and output
 * that shows these times must say so (docs/latency.md).
 *
 * A process without a point (a real machine talking over a real network) gets no emulated delay:
 * its latency is real already.
 */
import { type GeoPoint, predictRttMs } from "../protocol/geo.ts";

/**
 * Emulated one-way delay in ms between two points: half the modelled RTT. 0 when either end is
 * `null` (a real machine, whose network latency needs no emulation).
 *
 * @example emulatedOneWayMs(findCity("Frankfurt"), findCity("Singapore")) // 90 (RTT 180 / 2)
 */
export function emulatedOneWayMs(from: GeoPoint | null, to: GeoPoint | null): number {
  if (from === null || to === null) return 0;
  return predictRttMs(from, to) / 2;
}

/** Why an aborted wait rejects: the signal's reason, as fetch does, or a generic AbortError. */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * Resolves after `ms` (at once, on a later tick, when `ms` ≤ 0); rejects with the signal's reason
 * as soon as `signal` aborts, and clears its timer then.
 *
 * @example await delay(emulatedOneWayMs(here, there), request.signal)
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The part of `fetch` the wrapper needs and returns (global `fetch` and test doubles fit it). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Where the process behind a URL is emulated to be, or `null` for no emulation. May look it up
 * asynchronously (the CLI asks the coordinator about an endpoint it has not seen yet).
 */
export type EmulatedPointOf = (url: URL) => GeoPoint | null | Promise<GeoPoint | null>;

function urlOf(input: string | URL | Request): URL {
  if (input instanceof URL) return input;
  return new URL(typeof input === "string" ? input : input.url);
}

/**
 * Wraps `fetch` so that each request costs one emulated RTT between `from` and the process behind
 * its URL: it waits the emulated one-way delay before sending and again after the response headers
 * arrive. A URL whose point is `null`, or a `null` `from`, passes straight through.
 *
 * There is no transfer-time term: the model has no bandwidth data, and local bodies are small
 * beside the RTT (a 1 MiB body at 100 Mbit/s would add 84 ms; add a term here once transfers of
 * that size run locally). Aborting the request's signal during a wait rejects at once.
 *
 * @example
 * const emulatedFetch = withEmulatedLatency(fetch, findCity("Frankfurt"), (url) => pointByPort.get(url.port) ?? null);
 * await emulatedFetch("http://127.0.0.1:7401/blobs/…"); // ≥ 180 ms to a "Singapore" agent on :7401
 */
export function withEmulatedLatency(
  fetchImpl: FetchLike,
  from: GeoPoint | null,
  toPointOf: EmulatedPointOf,
): FetchLike {
  return async (input, init) => {
    const oneWayMs = from === null ? 0 : emulatedOneWayMs(from, await toPointOf(urlOf(input)));
    if (oneWayMs === 0) return fetchImpl(input, init);
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined;
    await delay(oneWayMs, signal);
    const response = await fetchImpl(input, init);
    try {
      await delay(oneWayMs, signal);
    } catch (abort) {
      // The caller gave up: release the connection behind the unread body, then report the abort
      // (a failure to cancel an already-closed body tells the caller nothing more).
      await response.body?.cancel().catch(() => undefined);
      throw abort;
    }
    return response;
  };
}
