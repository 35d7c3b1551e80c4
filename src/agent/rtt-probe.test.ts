/**
 * The RTT probe under full control: an injected clock that the fake transport advances by each
 * ping's scripted round trip, injected timers the test fires, and peers from a fixed node list. The
 * probe over real loopback with emulated latency is in rtt-probe.network.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  coordinateFromVivaldi,
  geoPriorCoordinate,
  predictedRttMs,
  updateCoordinate,
  type VivaldiCoordinate,
  vivaldiFromCoordinate,
} from "../core/index.ts";
import type { NodeView } from "../protocol/api.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { findCity } from "../protocol/geo.ts";
import type { PublicKeyHex } from "../protocol/ids.ts";
import type { NetworkCoordinate } from "../protocol/network-coordinate.ts";
import type { FetchLike } from "../sdk/create-client.ts";
import { createRttProbe, median, type ProbeTimers, pingRoutes, type RttProbeOptions } from "./rtt-probe.ts";

const frankfurt = findCity("Frankfurt");
const key = (digit: string) => digit.repeat(64) as PublicKeyHex;
const self = key("5");

function node(id: string, city: string, extra: Partial<NodeView> = {}): NodeView {
  const c = findCity(city);
  return {
    id,
    name: `node-${id.slice(0, 4)}`,
    city: c.name,
    country: c.country,
    jurisdictions: [...c.jurisdictions],
    latE6: c.latE6,
    lonE6: c.lonE6,
    resourceClass: "cpu",
    capacity: 1,
    throughput: 1,
    endpoint: `http://peer-${id.slice(0, 1)}.test:80`,
    stake: "0",
    openStages: 0,
    offers: [],
    ...extra,
  };
}

/** Timers that only fire when the test says so. */
class FakeTimers implements ProbeTimers {
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 0;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#next;
    this.pending.set(id, { callback, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fire every pending timer of exactly `ms`. */
  fire(ms: number): number {
    let fired = 0;
    for (const [id, t] of [...this.pending]) {
      if (t.ms !== ms) continue;
      this.pending.delete(id);
      t.callback();
      fired++;
    }
    return fired;
  }
}

/** Yields to the event loop until `condition` holds (each step a macrotask, not a guessed sleep). */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never: ${what}`);
}

type Behaviour =
  | {
      readonly rtts: number[];
      readonly coordinate?: NetworkCoordinate;
      /** Answer as this node instead. */
      readonly as?: string;
      /** Whitespace before the reply: valid JSON, but not the size of a ping reply. */
      readonly pad?: number;
    }
  | "silent";

/**
 * A transport to scripted peers. Each answered ping advances the clock by the next scripted RTT of
 * that peer before it resolves, so the probe measures exactly that (one peer per round: pings to
 * several peers run concurrently and would share the clock). "silent" never answers until aborted.
 */
function scriptedNetwork(peers: ReadonlyMap<string, Behaviour>) {
  let clock = 1_000;
  const requests: string[] = [];
  const fetch: FetchLike = (input, init) => {
    const url = new URL(String(input));
    requests.push(url.href);
    const id = [...peers.keys()].find((k) => url.host === `peer-${k.slice(0, 1)}.test`);
    const behaviour = id === undefined ? undefined : peers.get(id);
    if (behaviour === undefined) return Promise.reject(new TypeError("fetch failed"));
    if (behaviour === "silent") {
      return new Promise((_, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason), { once: true });
      });
    }
    clock += behaviour.rtts.shift() ?? 50;
    const reply = {
      node: behaviour.as ?? id,
      ...(behaviour.coordinate === undefined ? {} : { coordinate: behaviour.coordinate }),
    };
    const text = " ".repeat(behaviour.pad ?? 0) + JSON.stringify(reply);
    return Promise.resolve(new Response(text, { headers: { "content-type": "application/json" } }));
  };
  return { fetch, now: () => clock, requests };
}

function probeWith(
  nodes: NodeView[],
  peers: ReadonlyMap<string, Behaviour>,
  overrides: Partial<RttProbeOptions> = {},
) {
  const network = scriptedNetwork(peers);
  const timers = new FakeTimers();
  const controller = new AbortController();
  const published: NetworkCoordinate[] = [];
  const errors: unknown[] = [];
  const probe = createRttProbe({
    self,
    location: frankfurt,
    nodes: async () => nodes,
    fetch: network.fetch,
    now: network.now,
    timers,
    signal: controller.signal,
    publish: async (c) => {
      published.push(c);
    },
    onError: (e) => errors.push(e),
    ...overrides,
  });
  return { probe, network, timers, controller, published, errors };
}

const expectedAfter = (start: VivaldiCoordinate, peer: VivaldiCoordinate, rtt: number) =>
  // The tie-break ids only matter for coincident points, which these are not.
  updateCoordinate(start, peer, rtt, 0, 0);

describe("rtt probe", () => {
  test("pings a peer a few times and moves the coordinate by the median, against the peer's coordinate", async () => {
    const singapore = node(key("a"), "Singapore");
    const peerCoordinate = coordinateFromVivaldi(geoPriorCoordinate(singapore));
    const { probe, network } = probeWith(
      [node(self, "Frankfurt"), singapore],
      new Map([[singapore.id, { rtts: [400, 150, 152], coordinate: peerCoordinate }]]),
      { peersPerRound: 1, pingsPerPeer: 3 },
    );
    const prior = probe.coordinate();
    assert.deepEqual(prior, geoPriorCoordinate(frankfurt), "starts at the geographic prior");
    const round = await probe.round();
    assert.deepEqual(round.samples, [{ peer: singapore.id, answered: 3, rttMs: 152 }]);
    assert.deepEqual(network.requests, Array(3).fill("http://peer-a.test/v1/ping"));
    assert.deepEqual(probe.coordinate(), expectedAfter(prior, vivaldiFromCoordinate(peerCoordinate), 152));
    assert.ok(probe.coordinate().error < prior.error, "a sample makes the node surer");
  });

  test("without a coordinate in the reply, the peer's reported one is used, else its geographic prior", async () => {
    const reported = { vectorUs: [10_000, 20_000, 30_000], heightUs: 4_000, errorPpm: 300_000 };
    const withStored = node(key("a"), "Singapore", { coordinate: { ...reported, reportedAt: 1 } });
    const bare = node(key("b"), "Singapore");
    for (const [peer, expectedPeer] of [
      [withStored, vivaldiFromCoordinate(reported)],
      [bare, geoPriorCoordinate(bare)],
    ] as const) {
      const { probe } = probeWith([peer], new Map([[peer.id, { rtts: [120] }]]), {
        peersPerRound: 1,
        pingsPerPeer: 1,
      });
      const prior = probe.coordinate();
      await probe.round();
      assert.deepEqual(probe.coordinate(), expectedAfter(prior, expectedPeer, 120));
    }
  });

  test("rotates through the nodes with an endpoint in id order, starting after its own id, never itself", async () => {
    const { endpoint: _none, ...withoutEndpoint } = node(key("7"), "Paris");
    const nodes = [
      node(key("1"), "Amsterdam"),
      node(key("3"), "London"),
      node(self, "Frankfurt"),
      withoutEndpoint,
      node(key("8"), "Madrid"),
      node(key("c"), "Warsaw"),
    ];
    const peers = new Map<string, Behaviour>(nodes.map((n) => [n.id, { rtts: [] }]));
    const { probe, network } = probeWith(nodes, peers, { peersPerRound: 2, pingsPerPeer: 1 });
    const probed: string[][] = [];
    for (let r = 0; r < 3; r++) {
      const round = await probe.round();
      probed.push(round.samples.map((s) => s.peer.slice(0, 1)));
    }
    assert.deepEqual(probed, [
      ["8", "c"],
      ["1", "3"],
      ["8", "c"],
    ]);
    assert.ok(!network.requests.some((u) => u.includes("peer-5") || u.includes("peer-7")));
  });

  test("lost pings: a timeout or an answer from another node is no sample; a peer without one moves nothing", async () => {
    const silent = node(key("a"), "Singapore");
    const impostor = node(key("b"), "Tokyo");
    const { probe, timers, published } = probeWith(
      [silent, impostor],
      new Map<string, Behaviour>([
        [silent.id, "silent"],
        [impostor.id, { rtts: [200, 200], as: key("e") }],
      ]),
      { peersPerRound: 1, pingsPerPeer: 2, pingTimeoutMs: 777 },
    );
    const prior = probe.coordinate();
    const first = probe.round();
    for (let k = 0; k < 2; k++) {
      await until(`ping ${k + 1}'s timer`, () => timers.pending.size === 1);
      assert.equal(timers.fire(777), 1);
    }
    const second = await first.then(() => probe.round());
    assert.deepEqual((await first).samples, [{ peer: silent.id, answered: 0 }]);
    assert.deepEqual(second.samples, [{ peer: impostor.id, answered: 0 }], "it answered as another node");
    assert.equal(probe.coordinate(), prior, "unchanged");
    assert.equal(second.published, false);
    assert.deepEqual(published, [], "nothing learned, nothing reported");
    assert.equal(timers.pending.size, 0, "every ping timer was cleared");
  });

  test("error: a reply far larger than a ping reply is lost, however valid", async () => {
    const padded = node(key("a"), "Singapore");
    const { probe } = probeWith([padded], new Map([[padded.id, { rtts: [150, 150], pad: 8_000 }]]), {
      peersPerRound: 1,
      pingsPerPeer: 1,
    });
    assert.deepEqual((await probe.round()).samples, [{ peer: padded.id, answered: 0 }]);
    const small = probeWith([padded], new Map([[padded.id, { rtts: [150], pad: 100 }]]), {
      peersPerRound: 1,
      pingsPerPeer: 1,
    });
    assert.deepEqual((await small.probe.round()).samples, [{ peer: padded.id, answered: 1, rttMs: 150 }]);
  });

  test("reports after the first sample, then only once the coordinate moved past the threshold", async () => {
    const peer = node(key("a"), "New York");
    // Exactly what the two priors predict: no force, the points stay where they are.
    const agreed = predictedRttMs(geoPriorCoordinate(frankfurt), geoPriorCoordinate(peer));
    const script = { rtts: [agreed, agreed, agreed, 300] };
    const { probe, published } = probeWith([peer], new Map([[peer.id, script]]), {
      peersPerRound: 1,
      pingsPerPeer: 1,
      publishThresholdMs: 5,
    });
    const first = await probe.round();
    assert.equal(first.published, true);
    assert.deepEqual(published, [coordinateFromVivaldi(first.coordinate)]);
    for (let r = 0; r < 2; r++) assert.equal((await probe.round()).published, false);
    assert.equal(published.length, 1);
    const jump = await probe.round();
    assert.equal(jump.published, true, "a 300 ms sample moves it far");
    assert.deepEqual(published.at(-1), coordinateFromVivaldi(jump.coordinate));
  });

  test("error: a failed report is reported and sent again after the next round", async () => {
    const peer = node(key("a"), "Singapore");
    let fail = true;
    const sent: NetworkCoordinate[] = [];
    const { probe, errors } = probeWith([peer], new Map([[peer.id, { rtts: [150, 150] }]]), {
      peersPerRound: 1,
      pingsPerPeer: 1,
      publishThresholdMs: 1_000,
      publish: async (c) => {
        if (fail) throw new Error("coordinator down");
        sent.push(c);
      },
    });
    assert.equal((await probe.round()).published, false);
    assert.equal(errors.length, 1);
    fail = false;
    const second = await probe.round();
    assert.equal(second.published, true, "never reported yet, so the threshold does not hold it back");
    assert.deepEqual(sent, [coordinateFromVivaldi(second.coordinate)]);
  });

  test("resumes from the coordinate this node reported in an earlier run, and does not report it again", async () => {
    const stored = { vectorUs: [1_000, -2_000, 3_000], heightUs: 5_000, errorPpm: 200_000 };
    const peer = node(key("a"), "Amsterdam", {
      coordinate: { ...stored, vectorUs: [4_000, 2_000, 3_000], reportedAt: 9 },
    });
    const own = node(self, "Frankfurt", { coordinate: { ...stored, reportedAt: 5 } });
    const { probe, published } = probeWith([own, peer], new Map([[peer.id, { rtts: [5] }]]), {
      peersPerRound: 1,
      pingsPerPeer: 1,
      publishThresholdMs: 1_000,
    });
    await probe.round();
    const expected = expectedAfter(
      vivaldiFromCoordinate(stored),
      vivaldiFromCoordinate({ ...stored, vectorUs: [4_000, 2_000, 3_000] }),
      5,
    );
    assert.deepEqual(probe.coordinate(), expected);
    assert.deepEqual(published, [], "within the threshold of what the coordinator holds");
  });

  test("start() runs a round every interval on the injected timers until the signal aborts", async () => {
    const peer = node(key("a"), "Singapore");
    const { probe, timers, controller } = probeWith([peer], new Map([[peer.id, { rtts: [] }]]), {
      intervalMs: 4_321,
      peersPerRound: 1,
      pingsPerPeer: 1,
    });
    probe.start();
    probe.start(); // idempotent
    assert.equal([...timers.pending.values()].filter((t) => t.ms === 4_321).length, 1, "one loop");
    for (let r = 1; r <= 2; r++) {
      assert.equal(timers.fire(4_321), 1);
      await until(`round ${r} to end and the next to be scheduled`, () =>
        [...timers.pending.values()].some((t) => t.ms === 4_321),
      );
    }
    const manual = await probe.round();
    assert.equal(manual.round, 3, "two timed rounds, then this one");
    controller.abort();
    await probe.stopped();
    assert.equal(timers.pending.size, 0, "the next round's timer was cleared");
    await assert.rejects(probe.round(), (e: Error) => e.name === "AbortError");
  });

  test("error: settings that make no sense are MALFORMED", () => {
    for (const bad of [
      { intervalMs: 0 },
      { peersPerRound: 1.5 },
      { pingsPerPeer: -1 },
      { publishThresholdMs: -1 },
    ]) {
      assert.throws(
        () => probeWith([], new Map(), bad),
        (e) => isSwitchyardError(e, "MALFORMED"),
      );
    }
  });

  test("the ping route names the node and carries its current coordinate", async () => {
    const coordinate = { vectorUs: [1, 2, 3], heightUs: 4, errorPpm: 5 };
    let current: NetworkCoordinate | undefined = coordinate;
    const app = pingRoutes(self, () => current);
    const reply = await app.request("/v1/ping");
    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), { node: self, coordinate });
    current = undefined;
    assert.deepEqual(await (await app.request("/v1/ping")).json(), { node: self });
  });

  test("median of a few pings", () => {
    assert.equal(median([]), undefined);
    assert.equal(median([7]), 7);
    assert.equal(median([300, 100, 102]), 102);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});
