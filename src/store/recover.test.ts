import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { apply, createState, encodeState, replay, stateHash } from "../core/index.ts";
import { canonicalize } from "../protocol/canonical.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { encodeLogEvent, hashLogEvent } from "../protocol/log.ts";
import { runSimulation } from "../sim/simulation.ts";
import { auditStore } from "./audit.ts";
import { MemoryDisk, memoryEventStore } from "./memory-event-store.ts";
import { recoverState } from "./recover.ts";

// One simulated log, shared: 600 events of random valid and invalid traffic (only accepted ones
// are in the log).
const run = runSimulation({ seed: 11, events: 600, fullChecks: false, checkRejections: false });

async function storeWith(snapshotAt?: number) {
  const disk = new MemoryDisk();
  const store = memoryEventStore({ disk });
  await store.open();
  await store.append(run.log);
  if (snapshotAt !== undefined) {
    const state = replay(run.log.filter((e) => e.seq <= snapshotAt));
    await store.putSnapshot({ seq: snapshotAt, stateHash: stateHash(state), state: encodeState(state) });
  }
  return { disk, store };
}

async function rejects(promise: Promise<unknown>, code: string, seq: number) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isSwitchyardError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.details["seq"], seq, e.message);
    assert.match(e.message, new RegExp(String(seq)));
    return true;
  });
}

describe("recovery: latest snapshot plus replay", () => {
  test("from genesis, recovery reproduces the live state hash", async () => {
    const { store } = await storeWith();
    const recovered = await recoverState(store);
    assert.equal(stateHash(recovered.state), run.stateHash);
    assert.equal(recovered.fromSnapshot, null);
    assert.equal(recovered.replayed, run.log.length);
    assert.deepEqual(recovered.head, { seq: run.log.at(-1)!.seq, hash: run.log.at(-1)!.hash });
  });

  test("from a snapshot, recovery replays only the tail and reaches the same hash", async () => {
    const at = Math.floor(run.log.length / 2);
    const { store } = await storeWith(at);
    const recovered = await recoverState(store);
    assert.equal(recovered.fromSnapshot, at);
    assert.equal(recovered.replayed, run.log.length - at - 1);
    assert.equal(stateHash(recovered.state), run.stateHash);
  });

  test("error: a tampered event refuses to start and names its seq", async () => {
    const { disk, store } = await storeWith();
    const victim = 37;
    const row = disk.rows[victim]!;
    disk.rows[victim] = {
      ...row,
      json: row.json.replace(/"time":(\d+)/, (_, t) => `"time":${Number(t) + 1}`),
    };
    await rejects(recoverState(store), "CHAIN_BROKEN", victim);
    const audit = await auditStore(store, nodeEd25519);
    assert.equal(audit.ok, false);
    assert.equal(audit.error?.seq, victim);
  });

  test("error: a snapshot whose state does not match its hash refuses to start and names its seq", async () => {
    const at = 200;
    const { disk, store } = await storeWith(at);
    const snap = disk.snapshots.get(at)!;
    const text = new TextDecoder().decode(snap.state).replace(`"seq":${at}`, `"seq":${at},"x":1`);
    disk.snapshots.set(at, { ...snap, state: new TextEncoder().encode(text) });
    await rejects(recoverState(store), "STATE_HASH_MISMATCH", at);
  });

  test("the audit accepts an honest log and reports the state hash it replayed", async () => {
    const { store } = await storeWith(100);
    const audit = await auditStore(store, nodeEd25519, run.stateHash);
    assert.equal(audit.ok, true, JSON.stringify(audit.error));
    assert.equal(audit.snapshotChecked, true);
    assert.equal(audit.events, run.log.length);
    assert.equal(audit.signatures, run.log.filter((e) => e.payload.kind === "msg").length);
  });

  test("the audit reproduces a hash acknowledged in the middle of the log, and refuses a wrong one", async () => {
    const { store } = await storeWith();
    const replica = createState();
    const at = 300;
    for (const e of run.log.slice(0, at + 1)) apply(replica, e);
    const good = await auditStore(store, nodeEd25519, { seq: at, stateHash: stateHash(replica) });
    assert.equal(good.ok, true, JSON.stringify(good.error));
    assert.deepEqual(good.checkedAt, { seq: at, stateHash: stateHash(replica) });
    const bad = await auditStore(store, nodeEd25519, { seq: at + 1, stateHash: stateHash(replica) });
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.seq, at + 1);
    const beyond = await auditStore(store, nodeEd25519, {
      seq: run.log.length + 5,
      stateHash: run.stateHash,
    });
    assert.equal(beyond.ok, false, "an acknowledged seq the log does not reach is a missing event");
  });

  test("error: the audit catches a forged signature that a chain check alone would pass", async () => {
    const { disk, store } = await storeWith();
    // Re-hash a tampered envelope so the chain is consistent: only the signature check can tell.
    const victim = run.log.findIndex((e, i) => i > 10 && e.payload.kind === "msg");
    const events = run.log.map((e) => ({ ...e }));
    const e = events[victim]!;
    if (e.payload.kind !== "msg") throw new Error("unreachable");
    const sig = e.payload.env.sig;
    const forged = {
      ...e,
      payload: {
        kind: "msg" as const,
        env: { ...e.payload.env, sig: (sig[0] === "0" ? "1" : "0") + sig.slice(1) },
      },
    };
    events[victim] = { ...forged, hash: hashLogEvent(forged) };
    for (let i = victim + 1; i < events.length; i++) {
      const next = { ...events[i]!, prev: events[i - 1]!.hash };
      events[i] = { ...next, hash: hashLogEvent(next) };
    }
    disk.rows.length = 0;
    for (const ev of events)
      disk.rows.push({ seq: ev.seq, hash: ev.hash, prev: ev.prev, json: canonicalize(encodeLogEvent(ev)) });
    const audit = await auditStore(store, nodeEd25519);
    assert.equal(audit.ok, false);
    assert.equal(audit.error?.code, "BAD_SIGNATURE");
    assert.equal(audit.error?.seq, victim);
  });
});
