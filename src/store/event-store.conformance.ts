/**
 * The EventStore conformance suite. Every adapter's test file calls `eventStoreConformance` with a
 * harness over its own storage; the same specification then runs against memory, PGlite and
 * PostgreSQL. An adapter that cannot run here (no database configured) passes `skip`, and every
 * test is reported as skipped with the reason — never as passed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isSwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { type StoredEvent, verifyChain } from "../protocol/log.ts";
import type { EventStore } from "./event-store.ts";
import { nextEvent, sampleLog, sampleNet, sealEvent } from "./testing/sample-log.ts";

/** Storage for one test, and the back doors the suite needs into it. */
export interface EventStoreHarness {
  /** A new, unopened store over this storage; every one sees what earlier ones committed. */
  connect(): EventStore;
  /** Rewrite the stored JSON of event `seq` behind the store's back, as an attacker with disk access. */
  tamper(seq: number, edit: (json: string) => string): Promise<void>;
  /** Remove the storage. Stores opened through `connect` are closed before this runs. */
  destroy(): Promise<void>;
}

export interface ConformanceOptions {
  /** Why this adapter cannot run here; every test is then registered as skipped with this reason. */
  readonly skip?: string;
}

/** What a test sees of its harness: stores are closed for it when it ends. */
interface TestStorage {
  connect(): EventStore;
  open(): Promise<EventStore>;
  tamper: EventStoreHarness["tamper"];
}

const tick = { kind: "sys", sys: { type: "tick" } } as const;

async function readAll(store: EventStore, fromSeq = 0, limit?: number): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of store.read(fromSeq, limit)) out.push(e);
  return out;
}

function chainBroken(seq?: number): (e: unknown) => boolean {
  return (e) => isSwitchyardError(e, "CHAIN_BROKEN") && (seq === undefined || e.details["seq"] === seq);
}

/** Register the suite for one adapter under `describe(adapter)`. */
export function eventStoreConformance(
  adapter: string,
  createHarness: () => Promise<EventStoreHarness>,
  options: ConformanceOptions = {},
): void {
  const spec = (name: string, body: (h: TestStorage) => Promise<void>) =>
    test(name, options.skip === undefined ? {} : { skip: options.skip }, async () => {
      const harness = await createHarness();
      const connected: EventStore[] = [];
      const connect = () => {
        const store = harness.connect();
        connected.push(store);
        return store;
      };
      try {
        await body({
          connect,
          async open() {
            const store = connect();
            await store.open();
            return store;
          },
          tamper: (seq, edit) => harness.tamper(seq, edit),
        });
      } finally {
        for (const s of connected) await s.close();
        await harness.destroy();
      }
    });

  /** A store holding the first `n` events of a sample log, and the whole log. */
  const seeded = async (h: { open(): Promise<EventStore> }, n: number, total = n + 5) => {
    const store = await h.open();
    const log = sampleLog(total);
    await store.append(log.slice(0, n));
    return { store, log };
  };

  describe(`EventStore conformance: ${adapter}`, () => {
    spec("an empty store has no head, no network id, no events and no snapshot", async (h) => {
      const store = await h.open();
      assert.equal(await store.head(), null);
      assert.equal(await store.net(), null);
      assert.deepEqual(await readAll(store), []);
      assert.equal(await store.latestSnapshot(), null);
    });

    spec("append then read returns every field of every event, and the chain verifies", async (h) => {
      const { store, log } = await seeded(h, 25);
      const back = await readAll(store);
      assert.deepEqual(back, log.slice(0, 25));
      assert.equal(verifyChain(back), log[24]!.hash);
      assert.equal(await store.net(), sampleNet);
    });

    spec("head is the seq and hash of the last event", async (h) => {
      const { store, log } = await seeded(h, 7);
      assert.deepEqual(await store.head(), { seq: 6, hash: log[6]!.hash });
      await store.append(log.slice(7, 9));
      assert.deepEqual(await store.head(), { seq: 8, hash: log[8]!.hash });
    });

    spec("read honours fromSeq and limit, across more than one page", async (h) => {
      const { store, log } = await seeded(h, 2100);
      assert.deepEqual(await readAll(store, 5, 3), log.slice(5, 8));
      assert.deepEqual(await readAll(store, 2098), log.slice(2098, 2100));
      assert.deepEqual(await readAll(store, 2100), []);
      assert.deepEqual(await readAll(store, 0, 0), []);
      const all = await readAll(store, 500, 1500);
      assert.deepEqual(
        all.map((e) => e.seq),
        Array.from({ length: 1500 }, (_, i) => 500 + i),
      );
    });

    spec("error: an append with the wrong prev is rejected and writes nothing", async (h) => {
      const { store, log } = await seeded(h, 5);
      const forged = sealEvent({ ...log[5]!, prev: log[3]!.hash });
      await assert.rejects(store.append([forged]), chainBroken(5));
      assert.deepEqual(await store.head(), { seq: 4, hash: log[4]!.hash });
      assert.equal((await readAll(store)).length, 5);
    });

    spec("error: an append that leaves a gap is rejected and writes nothing", async (h) => {
      const { store, log } = await seeded(h, 5);
      await assert.rejects(store.append(log.slice(6, 8)), chainBroken());
      assert.equal((await store.head())?.seq, 4);
    });

    spec("error: an append of a seq already in the log is rejected and writes nothing", async (h) => {
      const { store, log } = await seeded(h, 5);
      const again = nextEvent(log[3]!, tick);
      await assert.rejects(store.append([again]), chainBroken());
      assert.deepEqual(await readAll(store), log.slice(0, 5));
    });

    spec("error: an event whose hash does not match its content is rejected", async (h) => {
      const { store, log } = await seeded(h, 5);
      const lying = { ...log[5]!, hash: log[4]!.hash };
      await assert.rejects(store.append([lying]), chainBroken(5));
      assert.equal((await store.head())?.seq, 4);
    });

    spec("error: a call is all or nothing — one bad event in it writes none of it", async (h) => {
      const { store, log } = await seeded(h, 5);
      const batch = [log[5]!, log[6]!, sealEvent({ ...log[7]!, prev: log[5]!.hash })];
      await assert.rejects(store.append(batch), chainBroken(7));
      assert.equal((await store.head())?.seq, 4);
    });

    spec("error: a log must start with a genesis event", async (h) => {
      const store = await h.open();
      const notGenesis = sealEvent({ ...sampleLog(1)[0]!, payload: tick });
      await assert.rejects(store.append([notGenesis]), chainBroken(0));
      assert.equal(await store.head(), null);
      assert.equal(await store.net(), null);
    });

    spec("concurrent appends are all durable, in call order, and the chain verifies", async (h) => {
      const store = await h.open();
      const log = sampleLog(600);
      // A burst of 300 calls in one tick, then 8 appenders that each wait for their ack before
      // taking the next event, as the sequencer's connections do: many batches of varying size.
      await Promise.all(log.slice(0, 300).map((e) => store.append([e])));
      let next = 300;
      const appender = async () => {
        while (next < log.length) await store.append([log[next++]!]);
      };
      await Promise.all(Array.from({ length: 8 }, appender));
      const back = await readAll(store);
      assert.deepEqual(back, log);
      assert.equal(verifyChain(back), log[599]!.hash);
    });

    spec("error: a bad call among concurrent ones is refused alone; the rest commit", async (h) => {
      const { store, log } = await seeded(h, 10, 20);
      const forged = sealEvent({ ...log[10]!, prev: log[2]!.hash });
      const results = await Promise.allSettled([
        store.append([forged]),
        store.append([log[10]!]),
        store.append(log.slice(11, 15)),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ["rejected", "fulfilled", "fulfilled"],
      );
      assert.deepEqual(await readAll(store), log.slice(0, 15));
    });

    spec("appends still queued when close() is called are committed before it resolves", async (h) => {
      const store = await h.open();
      const log = sampleLog(50);
      const acks = log.map((e) => store.append([e]));
      await store.close();
      await Promise.all(acks);
      await assert.rejects(store.append([nextEvent(log[49]!, tick)]), (e) =>
        isSwitchyardError(e, "STORE_UNAVAILABLE"),
      );
      const reopened = await h.open();
      assert.deepEqual(await readAll(reopened), log);
    });

    spec("a store reopened on the same storage sees every acknowledged event", async (h) => {
      const { store, log } = await seeded(h, 40, 60);
      await store.close();
      const again = await h.open();
      assert.deepEqual(await again.head(), { seq: 39, hash: log[39]!.hash });
      assert.equal(await again.net(), sampleNet);
      await again.append(log.slice(40, 60));
      assert.deepEqual(await readAll(again), log);
    });

    spec("snapshots: the latest is returned with the hash of its event, and survives a reopen", async (h) => {
      const { store, log } = await seeded(h, 12);
      const stateHash = (n: number) => n.toString(16).padStart(64, "0") as Hex32;
      await store.putSnapshot({ seq: 4, stateHash: stateHash(4), state: Uint8Array.of(4, 4) });
      await store.putSnapshot({ seq: 9, stateHash: stateHash(9), state: Uint8Array.of(9, 0, 255) });
      await store.putSnapshot({ seq: 6, stateHash: stateHash(6), state: Uint8Array.of(6) });
      const expected = {
        seq: 9,
        eventHash: log[9]!.hash,
        stateHash: stateHash(9),
        state: Uint8Array.of(9, 0, 255),
      };
      assert.deepEqual(await store.latestSnapshot(), expected);
      await store.close();
      const again = await h.open();
      const snap = await again.latestSnapshot();
      assert.deepEqual(snap, expected);
      // Recovery reads only what follows the snapshot and verifies it from the snapshot's event hash.
      const after = await readAll(again, snap!.seq + 1);
      assert.equal(verifyChain(after, snap!.eventHash, snap!.seq), log[11]!.hash);
    });

    spec("snapshots: the same snapshot twice is a no-op", async (h) => {
      const { store } = await seeded(h, 3);
      const snapshot = { seq: 2, stateHash: "ab".repeat(32) as Hex32, state: Uint8Array.of(1) };
      await store.putSnapshot(snapshot);
      await store.putSnapshot(snapshot);
      assert.deepEqual((await store.latestSnapshot())?.state, Uint8Array.of(1));
    });

    spec("error: a different state after the same event is a STATE_HASH_MISMATCH", async (h) => {
      const { store } = await seeded(h, 3);
      await store.putSnapshot({ seq: 2, stateHash: "ab".repeat(32) as Hex32, state: Uint8Array.of(1) });
      await assert.rejects(
        store.putSnapshot({ seq: 2, stateHash: "cd".repeat(32) as Hex32, state: Uint8Array.of(2) }),
        (e) => isSwitchyardError(e, "STATE_HASH_MISMATCH") && e.details["seq"] === 2,
      );
      assert.deepEqual((await store.latestSnapshot())?.state, Uint8Array.of(1));
    });

    spec("error: a snapshot after an event not in the log is NOT_FOUND", async (h) => {
      const { store } = await seeded(h, 3);
      await assert.rejects(
        store.putSnapshot({ seq: 3, stateHash: "ab".repeat(32) as Hex32, state: Uint8Array.of(1) }),
        (e) => isSwitchyardError(e, "NOT_FOUND") && e.details["seq"] === 3,
      );
      assert.equal(await store.latestSnapshot(), null);
    });

    spec("error: an edited event is detected by verifyChain, which names its seq", async (h) => {
      const { store, log } = await seeded(h, 20);
      await store.close();
      const amount = `"amount":"${1_000_000 + 13}"`;
      await h.tamper(13, (json) => {
        assert.ok(json.includes(amount), "sample event 13 is a transfer of 1000013");
        return json.replace(amount, `"amount":"${1_000_000 + 13_000}"`);
      });
      const back = await readAll(await h.open());
      assert.equal(back.length, 20);
      assert.notDeepEqual(back[13], log[13]);
      assert.throws(() => verifyChain(back), chainBroken(13));
    });

    spec("error: a stored event that no longer decodes is CHAIN_BROKEN naming its seq", async (h) => {
      const { store } = await seeded(h, 10);
      await store.close();
      await h.tamper(6, (json) => json.slice(0, -3));
      const again = await h.open();
      assert.deepEqual((await readAll(again, 0, 6)).length, 6);
      await assert.rejects(readAll(again), chainBroken(6));
    });

    spec("open() called twice at once, or again later, opens the store once", async (h) => {
      const store = h.connect();
      await Promise.all([store.open(), store.open()]);
      await store.open();
      await store.append(sampleLog(3));
      assert.equal((await store.head())?.seq, 2);
    });

    spec("error: a store that is not open refuses every call with STORE_UNAVAILABLE", async (h) => {
      const store = h.connect();
      const unavailable = (e: unknown) => isSwitchyardError(e, "STORE_UNAVAILABLE");
      await assert.rejects(store.head(), unavailable);
      await assert.rejects(store.append(sampleLog(1)), unavailable);
      await store.open();
      await store.close();
      await assert.rejects(store.head(), unavailable);
      await assert.rejects(readAll(store), unavailable);
      await assert.rejects(store.latestSnapshot(), unavailable);
    });
  });
}
