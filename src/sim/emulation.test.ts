import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findCity, type GeoPoint, predictRttMs } from "../protocol/geo.ts";
import { delay, emulatedOneWayMs, type FetchLike, withEmulatedLatency } from "./emulation.ts";

// Timing assertions are lower bounds only: a loaded machine may be arbitrarily slow, never early.
// Node may fire a timer up to 1 ms early against performance.now() (it rounds to whole ms), hence
// the 1 ms slack on every bound.
const slackMs = 1;

const frankfurt = findCity("Frankfurt");
const amsterdam = findCity("Amsterdam");
/** Frankfurt–Amsterdam: a small emulated RTT keeps the tests quick. */
const rttMs = predictRttMs(frankfurt, amsterdam);

/** A fetch double that records when it was called and answers at once. */
function recordingFetch(): { fetch: FetchLike; calls: Array<{ url: string; at: number }> } {
  const calls: Array<{ url: string; at: number }> = [];
  return {
    calls,
    fetch: async (input) => {
      calls.push({ url: String(input instanceof Request ? input.url : input), at: performance.now() });
      return new Response("ok");
    },
  };
}

describe("emulatedOneWayMs", () => {
  it("is half the modelled RTT, symmetric", () => {
    const singapore = findCity("Singapore");
    assert.equal(emulatedOneWayMs(frankfurt, singapore), predictRttMs(frankfurt, singapore) / 2);
    assert.equal(emulatedOneWayMs(singapore, frankfurt), emulatedOneWayMs(frankfurt, singapore));
    assert.equal(emulatedOneWayMs(frankfurt, frankfurt), predictRttMs(frankfurt, frankfurt) / 2);
  });

  it("is 0 when either end is a real machine (null)", () => {
    assert.equal(emulatedOneWayMs(null, frankfurt), 0);
    assert.equal(emulatedOneWayMs(frankfurt, null), 0);
    assert.equal(emulatedOneWayMs(null, null), 0);
  });
});

describe("delay", () => {
  it("resolves no earlier than the requested time", async () => {
    const start = performance.now();
    await delay(15);
    assert.ok(performance.now() - start >= 15 - slackMs);
  });

  it("resolves for zero and negative times", async () => {
    await delay(0);
    await delay(-5);
  });

  it("error: rejects with the signal's reason when aborted while waiting", async () => {
    const controller = new AbortController();
    const waiting = delay(60_000, controller.signal);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await assert.rejects(waiting, (e: unknown) => e === reason);
  });

  it("error: rejects at once with an AbortError when the signal is already aborted", async () => {
    await assert.rejects(delay(10, AbortSignal.abort()), { name: "AbortError" });
  });
});

describe("withEmulatedLatency", () => {
  const pointOf = (url: URL): GeoPoint | null => (url.port === "7401" ? amsterdam : null);

  it("a request costs one emulated RTT: one way before sending, one way after the response", async () => {
    const recorder = recordingFetch();
    const emulatedFetch = withEmulatedLatency(recorder.fetch, frankfurt, pointOf);
    const start = performance.now();
    const response = await emulatedFetch("http://127.0.0.1:7401/blobs/x");
    const elapsed = performance.now() - start;
    assert.equal(await response.text(), "ok");
    assert.equal(recorder.calls.length, 1);
    assert.ok(recorder.calls[0]!.at - start >= rttMs / 2 - slackMs, "waited one way before sending");
    assert.ok(elapsed >= rttMs - 2 * slackMs, `elapsed ${elapsed} ms < emulated RTT ${rttMs} ms`);
  });

  it("accepts URL and Request inputs", async () => {
    const recorder = recordingFetch();
    const emulatedFetch = withEmulatedLatency(recorder.fetch, frankfurt, pointOf);
    const start = performance.now();
    await emulatedFetch(new URL("http://127.0.0.1:7401/a"));
    await emulatedFetch(new Request("http://127.0.0.1:7401/b"));
    assert.deepEqual(
      recorder.calls.map((c) => c.url),
      ["http://127.0.0.1:7401/a", "http://127.0.0.1:7401/b"],
    );
    assert.ok(performance.now() - start >= 2 * rttMs - 4 * slackMs);
  });

  it("a point looked up asynchronously (an endpoint not seen yet) is awaited, then waited for", async () => {
    const recorder = recordingFetch();
    let lookups = 0;
    const emulatedFetch = withEmulatedLatency(recorder.fetch, frankfurt, async (url) => {
      lookups++;
      await new Promise((resolve) => setImmediate(resolve));
      return pointOf(url);
    });
    const start = performance.now();
    await emulatedFetch("http://127.0.0.1:7401/v1/ping");
    assert.equal(lookups, 1);
    assert.ok(performance.now() - start >= rttMs - 2 * slackMs, "paid the emulated RTT");
  });

  it("passes straight through when the target or the caller has no point", async () => {
    const recorder = recordingFetch();
    await withEmulatedLatency(recorder.fetch, frankfurt, pointOf)("http://127.0.0.1:9999/");
    await withEmulatedLatency(recorder.fetch, null, pointOf)("http://127.0.0.1:7401/");
    assert.equal(recorder.calls.length, 2);
  });

  it("error: aborting during the emulated wait rejects and never sends the request", async () => {
    const recorder = recordingFetch();
    const far = withEmulatedLatency(recorder.fetch, frankfurt, () => findCity("Sydney"));
    const controller = new AbortController();
    const pending = far("http://127.0.0.1:7401/", { signal: controller.signal });
    controller.abort(new Error("stop"));
    await assert.rejects(pending, /stop/);
    assert.equal(recorder.calls.length, 0);
  });

  it("error: aborting after the response arrives rejects and cancels the unread body", async () => {
    const controller = new AbortController();
    let cancelled = false;
    const answersThenAborts: FetchLike = async () => {
      const body = new ReadableStream({
        cancel: () => {
          cancelled = true;
        },
      });
      controller.abort(new Error("too late"));
      return new Response(body);
    };
    const emulatedFetch = withEmulatedLatency(answersThenAborts, frankfurt, pointOf);
    await assert.rejects(emulatedFetch("http://127.0.0.1:7401/", { signal: controller.signal }), /too late/);
    assert.ok(cancelled);
  });

  it("error: a failing fetch rejects after the first one-way wait, with its own error", async () => {
    const failing: FetchLike = async () => {
      throw new TypeError("fetch failed");
    };
    const emulatedFetch = withEmulatedLatency(failing, frankfurt, pointOf);
    await assert.rejects(emulatedFetch("http://127.0.0.1:7401/"), {
      name: "TypeError",
      message: "fetch failed",
    });
  });
});
