/**
 * Group commit: appends that arrive while a commit is in flight wait and then share the next
 * transaction, so N concurrent callers pay for one fsync instead of N. There is no timer: an append
 * to an idle store commits at once (after the current tick, so calls made in the same tick share
 * it), and the batch grows exactly as much as the commit before it was slow. This is the leader /
 * follower scheme of PostgreSQL's own WAL group flush, one level up.
 */
import type { StoredEvent } from "../protocol/log.ts";
import { checkAppend, type EventRow } from "./event-rows.ts";
import type { LogHead } from "./event-store.ts";

/** What one transaction writes: the rows of every accepted call, and the network id at genesis. */
export interface PlannedBatch {
  readonly rows: readonly EventRow[];
  readonly net: string | null;
}

/**
 * Run one durable transaction: read the head, call `plan(head)` for the rows to write, write them,
 * commit. Resolve only when the commit is durable; throw if it is not.
 */
export type CommitBatch = (plan: (head: LogHead | null) => PlannedBatch) => Promise<void>;

interface PendingAppend {
  readonly events: readonly StoredEvent[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** Set once the call has been rejected on its own (it broke the chain), before the commit. */
  settled: boolean;
}

/** The default cap on one transaction; see EventStoreOptions.maxBatchEvents. */
export const defaultMaxBatchEvents = 4096;

export class GroupCommit {
  readonly #commit: CommitBatch;
  readonly #maxBatchEvents: number;
  #pending: PendingAppend[] = [];
  #flushing: Promise<void> | null = null;

  constructor(commit: CommitBatch, maxBatchEvents = defaultMaxBatchEvents) {
    this.#commit = commit;
    this.#maxBatchEvents = Math.max(1, maxBatchEvents);
  }

  /** Queue `events` as one all-or-nothing call; resolves when its batch has committed. */
  append(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#pending.push({ events, resolve, reject, settled: false });
      this.#flushing ??= this.#flush();
    });
  }

  /** Resolves when every queued call has been committed or rejected. */
  async drain(): Promise<void> {
    await this.#flushing;
  }

  async #flush(): Promise<void> {
    // Let the rest of the current tick queue its appends, so they share the first transaction.
    await Promise.resolve();
    while (this.#pending.length > 0) await this.#commitNext(this.#takeBatch());
    this.#flushing = null;
  }

  #takeBatch(): PendingAppend[] {
    let events = 0;
    let n = 0;
    for (const p of this.#pending) {
      if (n > 0 && events + p.events.length > this.#maxBatchEvents) break;
      events += p.events.length;
      n++;
    }
    return this.#pending.splice(0, n);
  }

  async #commitNext(batch: readonly PendingAppend[]): Promise<void> {
    const plan = (head: LogHead | null): PlannedBatch => {
      const rows: EventRow[] = [];
      let net: string | null = null;
      let tip = head;
      for (const p of batch) {
        try {
          const checked = checkAppend(p.events, tip);
          rows.push(...checked.rows);
          net ??= checked.net;
          tip = checked.head;
        } catch (error) {
          // This call breaks the chain: it is refused alone and later calls are checked against
          // the head before it, so one bad caller cannot fail the others in its batch.
          p.settled = true;
          p.reject(error);
        }
      }
      return { rows, net };
    };
    try {
      await this.#commit(plan);
      for (const p of batch) if (!p.settled) p.resolve();
    } catch (error) {
      for (const p of batch) if (!p.settled) p.reject(error);
    }
  }
}
