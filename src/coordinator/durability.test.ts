/**
 * The durability rules: a receipt is returned only once its event is in the store; a restart on
 * the same log recovers the same state and head; a failed append halts the coordinator, refuses
 * everything it had not made durable, and a restart continues from what the disk holds.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ApiError, Receipt } from "../protocol/api.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import type { StoredEvent } from "../protocol/log.ts";
import type { EventStore } from "../store/event-store.ts";
import { MemoryDisk, memoryEventStore } from "../store/memory-event-store.ts";
import { pgliteEventStore } from "../store/pglite-event-store.ts";
import { recoverState } from "../store/recover.ts";
import {
  get,
  post,
  Signer,
  startTestCoordinator,
  statusHash,
  submit,
  testIdentity,
  waitFor,
} from "./test-kit.ts";

const alice = testIdentity("alice");
const bob = testIdentity("bob");

/** A store that passes everything to `inner`, except that `append` first runs `before`. */
function interceptedStore(
  inner: EventStore,
  before: (events: readonly StoredEvent[]) => Promise<void>,
): EventStore {
  return {
    kind: inner.kind,
    open: () => inner.open(),
    append: async (events) => {
      await before(events);
      return inner.append(events);
    },
    read: (from, limit) => inner.read(from, limit),
    head: () => inner.head(),
    net: () => inner.net(),
    putSnapshot: (s) => inner.putSnapshot(s),
    latestSnapshot: () => inner.latestSnapshot(),
    close: () => inner.close(),
  };
}

async function storedHash(disk: MemoryDisk, seq: number): Promise<string | undefined> {
  return disk.rows[seq]?.hash;
}

describe("durability", () => {
  test("a receipt is returned only after its event is in the store", async () => {
    const disk = new MemoryDisk();
    let release: () => void = () => {};
    let held = 0;
    const store = interceptedStore(memoryEventStore({ disk }), async (events) => {
      if (events[0]!.seq === 0) return; // genesis
      held++;
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const coordinator = await startTestCoordinator({ store });
    try {
      const signer = new Signer(coordinator.net);
      let answered = false;
      const response = submit(coordinator.url, signer.sign(alice, "faucet", { amount: 1_000n })).then((r) => {
        answered = true;
        return r;
      });
      await waitFor("the append to start", () => (held === 1 ? true : undefined));
      // A full request served after the append started: an early acknowledgement would be out by now.
      assert.equal((await get(coordinator.url, "/healthz")).status, 200);
      assert.equal(answered, false, "no receipt while the append is not durable");
      assert.equal(disk.rows.length, 1, "only genesis is stored");
      release();
      const receipt = await response;
      assert.equal(await storedHash(disk, receipt.seq), receipt.hash, "the receipted event is in the store");
    } finally {
      release();
      await coordinator.stop();
    }
  });

  test("error: beyond maxPendingMessages a message is refused with 503 (overloaded) and changes nothing", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = 0;
    const store = interceptedStore(memoryEventStore(), async (events) => {
      if (events[0]!.seq === 0) return;
      held++;
      await gate;
    });
    const coordinator = await startTestCoordinator({ store, limits: { maxPendingMessages: 2 } });
    try {
      const signer = new Signer(coordinator.net);
      const before = await statusHash(coordinator.url);
      const first = submit(coordinator.url, signer.sign(alice, "faucet", { amount: 1n }));
      const second = submit(coordinator.url, signer.sign(bob, "faucet", { amount: 2n }));
      // Both applied (views read the applied state) while the first append is held: both are pending.
      await waitFor("both to be applied", async () => {
        const nonces = await Promise.all(
          [alice, bob].map(
            async (who) =>
              (await get<{ nonce: string }>(coordinator.url, `/v1/accounts/${who.publicKey}`)).body.nonce,
          ),
        );
        return held >= 1 && nonces.every((n) => n === "1") ? true : undefined;
      });
      assert.notEqual(await statusHash(coordinator.url), before);
      const refused = await post<ApiError>(
        coordinator.url,
        "/v1/messages",
        signer.wire(alice, "faucet", { amount: 3n }),
      );
      assert.equal(refused.status, 503);
      assert.equal(refused.body.code, "STORE_UNAVAILABLE");
      assert.equal(refused.body.details["reason"], "overloaded");
      release();
      const receipts = await Promise.all([first, second]);
      assert.deepEqual(
        receipts.map((r) => r.seq),
        [1, 2],
        "the admitted messages are acknowledged once durable; the refused one took no seq",
      );
    } finally {
      release();
      await coordinator.stop();
    }
  });

  test("restart on the same PGlite directory recovers the same state hash and head, and continues", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "switchyard-restart-"));
    try {
      const signer = new Signer("testnet");
      const first = await startTestCoordinator({ store: pgliteEventStore({ dataDir }), snapshotEvery: 4 });
      await submit(first.url, signer.sign(alice, "faucet", { amount: 5_000_000n }));
      for (let i = 1; i <= 6; i++)
        await submit(first.url, signer.sign(alice, "transfer", { to: bob.publicKey, amount: BigInt(i) }));
      await submit(first.url, signer.sign(bob, "bond", { amount: 10n }));
      const hash = first.stateHash();
      const head = first.head();
      assert.equal(await statusHash(first.url), hash);
      await first.stop();

      const second = await startTestCoordinator({ store: pgliteEventStore({ dataDir }), net: "ignored" });
      try {
        assert.equal(second.net, "testnet", "an existing log keeps its own network");
        assert.equal(second.stateHash(), hash);
        assert.deepEqual(second.head(), head);
        assert.equal(await statusHash(second.url), hash);
        // Nonces continue where the log left them.
        const receipt = await submit(
          second.url,
          signer.sign(alice, "transfer", { to: bob.publicKey, amount: 7n }),
        );
        assert.equal(receipt.seq, head.seq + 1);
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test("a crash loses nothing acknowledged: recovery from snapshot plus replay equals the live state", async () => {
    const disk = new MemoryDisk();
    const coordinator = await startTestCoordinator({ store: memoryEventStore({ disk }), snapshotEvery: 3 });
    try {
      const signer = new Signer(coordinator.net);
      await submit(coordinator.url, signer.sign(alice, "faucet", { amount: 5_000_000n }));
      for (let i = 1; i <= 7; i++)
        await submit(coordinator.url, signer.sign(alice, "transfer", { to: bob.publicKey, amount: 1n }));
      // The periodic snapshot is put after its event is durable, asynchronously.
      await waitFor("a periodic snapshot", () => (disk.snapshots.size > 0 ? true : undefined));
      // Read the disk as a restarted process would, without stopping (no final snapshot).
      const reader = memoryEventStore({ disk });
      await reader.open();
      const recovered = await recoverState(reader);
      assert.ok(recovered.fromSnapshot !== null && recovered.replayed > 0, "snapshot plus a replay");
      assert.deepEqual(recovered.head, coordinator.head());
      assert.equal((await import("../core/index.ts")).stateHash(recovered.state), coordinator.stateHash());
    } finally {
      await coordinator.stop();
    }
  });

  test("error: a failed append halts the coordinator; nothing unacknowledged survives, and a restart continues", async () => {
    const disk = new MemoryDisk();
    let failing = false;
    const store = interceptedStore(memoryEventStore({ disk }), async () => {
      if (failing) throw new SwitchyardError("STORE_UNAVAILABLE", "disk on fire (test)");
    });
    const coordinator = await startTestCoordinator({ store });
    const signer = new Signer(coordinator.net);
    await submit(coordinator.url, signer.sign(alice, "faucet", { amount: 1_000_000n }));
    const before = await statusHash(coordinator.url);
    const durable = coordinator.head();

    failing = true;
    const transfer = signer.wire(alice, "transfer", { to: bob.publicKey, amount: 10n });
    // The second copy is refused by the state machine (its nonce was just used) — but that
    // judgement rests on the first copy, which never becomes durable, so it must not be answered
    // as NONCE_REPLAYED either.
    const batch = await post<{ results: ApiError[] }>(coordinator.url, "/v1/messages/batch", {
      messages: [transfer, transfer],
    });
    assert.equal(batch.status, 200);
    assert.deepEqual(
      batch.body.results.map((r) => r.code),
      ["STORE_UNAVAILABLE", "STORE_UNAVAILABLE"],
    );
    const halt = await coordinator.stopped;
    assert.equal(halt?.code, "STORE_UNAVAILABLE");
    assert.equal(coordinator.halted()?.code, "STORE_UNAVAILABLE");
    await assert.rejects(fetch(`${coordinator.url}/v1/status`), "the API is closed after a halt");

    failing = false;
    const restarted = await startTestCoordinator({ store: memoryEventStore({ disk }) });
    try {
      assert.deepEqual(restarted.head(), durable);
      assert.equal(await statusHash(restarted.url), before, "the state is what the disk holds");
      const receipt: Receipt = await submit(restarted.url, transfer);
      assert.equal(receipt.seq, durable.seq + 1, "the refused message can be sent again");
    } finally {
      await restarted.stop();
    }
  });
});
