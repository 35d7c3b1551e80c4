/**
 * The sequencer: verify → stamp → apply → hash → append → acknowledge.
 *
 * - **Order.** Signatures are verified in parallel (verifier.ts), but messages are sequenced in the
 *   order they were admitted, so two messages of one signer sent back to back keep their nonce
 *   order whatever thread verified them first.
 * - **Apply in memory, in order; append pipelined.** An accepted event is applied at once, hashed
 *   and queued for the store. While one append (a group commit) is in flight, the next events wait
 *   in a buffer and travel together in the next one — the batch grows exactly as much as the
 *   previous commit was slow.
 * - **Acknowledge only what is durable.** A receipt is signed and returned, and the event's effects
 *   are delivered, only after the store said the append is durable. A refusal by the state machine
 *   is answered once everything sequenced before it is durable, since the refusal was judged
 *   against that state. (Refusals that need no state — bad JSON, bad signature — are answered at once.)
 * - **Halt rather than diverge.** If an append fails, memory is ahead of disk. Nothing more is
 *   sequenced or acknowledged: every waiting message is refused with STORE_UNAVAILABLE and the
 *   coordinator stops, so that a restart recovers from what the disk holds (TigerBeetle's rule:
 *   never continue in a state you cannot prove).
 */
import type { Logger } from "pino";
import { apply, type Effect, encodeState, type State, sequenceEvent } from "../core/index.ts";
import type { Receipt } from "../protocol/api.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { Hex32, JobId } from "../protocol/ids.ts";
import { hashLogEvent, type LogPayload, type StoredEvent } from "../protocol/log.ts";
import type { EventStore, LogHead, SnapshotInput } from "../store/event-store.ts";
import { hashEventWithPayload, stateHashOfEncoded } from "./event-hash.ts";
import { Fifo } from "./fifo.ts";
import { asSwitchyardError } from "./http-errors.ts";
import type { CoordinatorMetrics } from "./metrics.ts";
import { type StageChange, StageStatusMirror } from "./stage-changes.ts";
import type { CryptoPool, Verified } from "./verifier.ts";

/** A durable event with what applying it produced, for delivery to stream subscribers. */
export interface SequencedEvent {
  readonly event: StoredEvent;
  readonly effects: readonly Effect[];
  readonly stageChanges: readonly StageChange[];
  /** Jobs the event may have changed (for ?job= subscribers). */
  readonly jobs: readonly JobId[];
}

export interface SequencerOptions {
  readonly store: EventStore;
  /**
   * A shell-level condition a message must meet before it is sequenced, beyond what `apply` can
   * check (e.g. that a revealed state is held in the blob cache). Throws a typed error to refuse.
   */
  readonly admit?: (env: Envelope, state: State) => void;
  /** The recovered state (the sequencer takes ownership) and the durable head it corresponds to. */
  readonly state: State;
  readonly head: LogHead;
  /** Seq of the snapshot the state was recovered from, if any (no need to put it again). */
  readonly snapshotSeq?: number | null;
  /** Verifies envelopes and signs receipts (as the coordinator's identity) off this thread. */
  readonly crypto: CryptoPool;
  /** Wall clock in ms since the epoch; sequencer time is max(previous + 1, clock()). */
  readonly clock: () => number;
  /** Put a snapshot after every this many events (0: only on stop). */
  readonly snapshotEvery: number;
  /** Messages admitted and not yet answered beyond which new ones are refused (overload). */
  readonly maxPending: number;
  readonly metrics: CoordinatorMetrics;
  readonly logger: Logger;
  /** Events just made durable, in log order. Called before their receipts resolve. */
  readonly onDurable: (events: readonly SequencedEvent[]) => void;
  /** The sequencer halted; the coordinator must stop (a restart replays the log). */
  readonly onHalt: (error: SwitchyardError) => void;
}

/** A durable event, and for a message the receipt being signed for it. */
interface Acknowledgement {
  readonly event: StoredEvent;
  readonly receipt: Promise<Receipt> | null;
}

type Outcome =
  | ({ readonly ok: true } & Acknowledgement)
  | { readonly ok: false; readonly error: SwitchyardError };

/** What sequencing needs to know about an admission's signature: ticks need no check. */
type Verdict = Verified | { readonly ok: true; readonly payload: null };

interface Admission {
  readonly payload: LogPayload;
  /** undefined while the signature is being checked. */
  verdict: Verdict | undefined;
  /** performance.now() at admission, for the latency histogram. */
  readonly admittedAt: number;
  readonly settle: (outcome: Outcome) => void;
}

interface Sequenced extends SequencedEvent {
  readonly admission: Admission;
  readonly receipt: Promise<Receipt> | null;
}

interface DurableWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: SwitchyardError) => void;
}

export class Sequencer {
  readonly #o: SequencerOptions;
  readonly #state: State;
  readonly #mirror: StageStatusMirror;
  #appliedHash: Hex32;
  #durable: LogHead;
  #queue = new Fifo<Admission>();
  /** Messages admitted and not yet answered (queued, buffered or being appended). */
  #pending = 0;
  #buffer: Sequenced[] = [];
  #appending = false;
  #waiters: DurableWaiter[] = [];
  #idleWaiters: Array<() => void> = [];
  #halted: SwitchyardError | null = null;
  #closing = false;
  #pendingSnapshot: SnapshotInput | null = null;
  #lastSnapshotSeq = -1;
  #lastTickSeq = -1;

  constructor(options: SequencerOptions) {
    this.#o = options;
    this.#state = options.state;
    this.#mirror = new StageStatusMirror(options.state);
    this.#appliedHash = options.head.hash;
    this.#durable = options.head;
    this.#lastSnapshotSeq = options.snapshotSeq ?? -1;
    options.metrics.seq.set(options.head.seq);
  }

  /** The state as applied so far (at most one group commit ahead of the disk). Read only. */
  get state(): State {
    return this.#state;
  }

  /** The last applied event. */
  get appliedHead(): LogHead {
    return { seq: this.#state.seq, hash: this.#appliedHash };
  }

  /** The last event the store acknowledged as durable. */
  get durableHead(): LogHead {
    return this.#durable;
  }

  /** Seq of the last tick sequenced (-1 before the first in this process). */
  get lastTickSeq(): number {
    return this.#lastTickSeq;
  }

  /** Why the sequencer halted, or null while it runs. */
  get halted(): SwitchyardError | null {
    return this.#halted;
  }

  /**
   * Sequence a decoded envelope. Resolves with the signed receipt once the event is durable;
   * rejects with the typed refusal (BAD_SIGNATURE, NONCE_REPLAYED, INSUFFICIENT_FUNDS, …) or
   * STORE_UNAVAILABLE when halted or stopping — in every refusal, nothing was appended.
   */
  submit(env: Envelope): Promise<Receipt> {
    const refusal = this.#refusal(true);
    if (refusal !== null) {
      this.#o.metrics.rejected.inc({ code: refusal.code });
      return Promise.reject(refusal);
    }
    try {
      this.#o.admit?.(env, this.state);
    } catch (error) {
      const typed = isSwitchyardError(error)
        ? error
        : new SwitchyardError("MALFORMED", `message refused: ${String(error)}`);
      this.#o.metrics.rejected.inc({ code: typed.code });
      return Promise.reject(typed);
    }
    return this.#admit({ kind: "msg", env }, this.#o.crypto.verify(env)).then((ack) => ack.receipt!);
  }

  /** Sequence a tick (deadlines and verification windows are evaluated at its time). */
  tick(): Promise<StoredEvent> {
    return this.#admit({ kind: "sys", sys: { type: "tick" } }, null).then((ack) => ack.event);
  }

  /** Resolves once event `seq` is durable; rejects if the sequencer halts first. */
  whenDurable(seq: number): Promise<void> {
    if (this.#durable.seq >= seq) return Promise.resolve();
    if (this.#halted !== null) return Promise.reject(this.#halted);
    return new Promise((resolve, reject) => this.#waiters.push({ seq, resolve, reject }));
  }

  /**
   * Stop admitting (new submissions get STORE_UNAVAILABLE), finish what was admitted, and put a
   * snapshot of the final state so the next start does not replay.
   */
  async close(): Promise<void> {
    this.#closing = true;
    await new Promise<void>((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#notifyIdle();
    });
    if (this.#halted === null && this.#state.seq > this.#lastSnapshotSeq) {
      await this.#putSnapshot(this.#captureSnapshot());
    }
  }

  /** Why a new admission is refused now, if it is: halted, stopping, or (messages only) overloaded. */
  #refusal(message: boolean): SwitchyardError | null {
    if (this.#halted !== null) return this.#halted;
    if (this.#closing) return stopping();
    if (message && this.#pending >= this.#o.maxPending) return overloaded(this.#pending);
    return null;
  }

  #admit(payload: LogPayload, verdict: Promise<Verified> | null): Promise<Acknowledgement> {
    const refusal = this.#refusal(false);
    if (refusal !== null) return Promise.reject(refusal);
    this.#pending++;
    return new Promise<Acknowledgement>((resolve, reject) => {
      const admission: Admission = {
        payload,
        verdict: verdict === null ? { ok: true, payload: null } : undefined,
        admittedAt: performance.now(),
        settle: (o) => {
          this.#pending--;
          if (o.ok) resolve(o);
          else reject(o.error);
        },
      };
      this.#queue.push(admission);
      if (verdict === null) this.#pump();
      else
        verdict.then((v) => {
          admission.verdict = v;
          this.#pump();
        });
    });
  }

  /** Sequence admissions from the head of the queue while their verdicts are known. */
  #pump(): void {
    while (this.#queue.peek()?.verdict !== undefined) {
      const admission = this.#queue.shift()!;
      const verdict = admission.verdict!;
      if (this.#halted !== null) admission.settle({ ok: false, error: this.#halted });
      else if (!verdict.ok) this.#refuse(admission, verdict.error);
      else this.#sequence(admission, verdict.payload);
    }
    this.#notifyIdle();
  }

  #refuse(admission: Admission, error: SwitchyardError): void {
    this.#o.metrics.rejected.inc({ code: error.code });
    admission.settle({ ok: false, error });
  }

  /** `payload`: the canonical JSON of the admission's payload when a worker computed it. */
  #sequence(admission: Admission, payload: string | null): void {
    const event = sequenceEvent(this.#state, this.#appliedHash, admission.payload, this.#o.clock());
    let result: ReturnType<typeof apply>;
    try {
      result = apply(this.#state, event);
    } catch (error) {
      // Only INVARIANT_VIOLATED escapes apply: the state may be wrong, so nothing else is applied.
      const e = asSwitchyardError(error);
      this.#refuse(admission, e);
      this.#halt(e);
      return;
    }
    if (!result.ok) {
      const error = result.error;
      const judgedAt = this.#state.seq;
      this.whenDurable(judgedAt).then(
        () => this.#refuse(admission, error),
        (halted: SwitchyardError) => admission.settle({ ok: false, error: halted }),
      );
      return;
    }
    const hash = payload === null ? hashLogEvent(event) : hashEventWithPayload(event, payload);
    const stored: StoredEvent = { ...event, hash };
    this.#appliedHash = stored.hash;
    if (admission.payload.kind === "sys" && admission.payload.sys.type === "tick")
      this.#lastTickSeq = stored.seq;
    const { changes, jobs } = this.#mirror.observe(this.#state, event, result.effects);
    // Signed now, on a worker, while the append is in flight; released only once it is durable.
    const receipt =
      stored.payload.kind === "msg"
        ? this.#o.crypto.signReceipt({
            net: this.#state.net ?? "",
            seq: stored.seq,
            hash: stored.hash,
            time: stored.time,
          })
        : null;
    this.#buffer.push({
      event: stored,
      effects: result.effects,
      stageChanges: changes,
      jobs,
      admission,
      receipt,
    });
    const every = this.#o.snapshotEvery;
    if (every > 0 && stored.seq % every === 0) this.#pendingSnapshot = this.#captureSnapshot();
    this.#scheduleAppend();
  }

  /**
   * Encode the state as it is now. Synchronous, so it is exactly the state after the last applied
   * event; it stalls sequencing for a few µs per account (about 10 ms at 2,000 accounts), which is
   * why snapshots are rare. The state is encoded once and its hash taken from those bytes.
   */
  #captureSnapshot(): SnapshotInput {
    const t0 = performance.now();
    const state = encodeState(this.#state);
    const snapshot = { seq: this.#state.seq, stateHash: stateHashOfEncoded(state), state };
    this.#o.logger.debug(
      { seq: snapshot.seq, ms: Math.round(performance.now() - t0) },
      "captured a snapshot",
    );
    return snapshot;
  }

  #scheduleAppend(): void {
    if (this.#appending || this.#buffer.length === 0 || this.#halted !== null) return;
    this.#appending = true;
    // After the current run of the event loop's microtasks, so every event sequenced from one batch
    // of verdicts shares the commit.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const batch = this.#buffer;
    this.#buffer = [];
    if (batch.length === 0 || this.#halted !== null) {
      this.#appending = false;
      this.#notifyIdle();
      return;
    }
    this.#o.metrics.appendBatch.observe(batch.length);
    const t0 = performance.now();
    this.#o.store.append(batch.map((b) => b.event)).then(
      () => {
        this.#o.metrics.appendSeconds.observe((performance.now() - t0) / 1000);
        this.#onDurable(batch);
      },
      (error: unknown) => {
        const e = asSwitchyardError(error);
        this.#halt(e);
        for (const b of batch) b.admission.settle({ ok: false, error: this.#halted! });
        this.#appending = false;
        this.#notifyIdle();
      },
    );
  }

  #onDurable(batch: readonly Sequenced[]): void {
    const last = batch[batch.length - 1]!.event;
    this.#durable = { seq: last.seq, hash: last.hash };
    this.#o.metrics.seq.set(last.seq);
    try {
      this.#o.onDurable(batch);
    } catch (error) {
      // Delivery is best effort (subscribers reconnect and catch up with a GET); the log is not.
      this.#o.logger.error({ err: error }, "delivering effects failed");
    }
    const now = performance.now();
    for (const b of batch) {
      if (b.event.payload.kind === "msg") {
        this.#o.metrics.accepted.inc({ type: b.event.payload.env.type });
        this.#o.metrics.sequencerLatency.observe((now - b.admission.admittedAt) / 1000);
      }
      b.admission.settle({ ok: true, event: b.event, receipt: b.receipt });
    }
    while (this.#waiters.length > 0 && this.#waiters[0]!.seq <= last.seq) this.#waiters.shift()!.resolve();
    const snapshot = this.#pendingSnapshot;
    if (snapshot !== null && snapshot.seq <= last.seq) {
      this.#pendingSnapshot = null;
      void this.#putSnapshot(snapshot);
    }
    this.#appending = false;
    this.#scheduleAppend();
    this.#notifyIdle();
  }

  async #putSnapshot(snapshot: SnapshotInput): Promise<void> {
    try {
      await this.#o.store.putSnapshot(snapshot);
      this.#lastSnapshotSeq = Math.max(this.#lastSnapshotSeq, snapshot.seq);
      this.#o.logger.info({ seq: snapshot.seq, bytes: snapshot.state.length }, "snapshot stored");
    } catch (error) {
      // A missing snapshot only makes the next start replay more; a conflicting one means apply is
      // not deterministic, which the log must show loudly.
      this.#o.logger.error({ err: error, seq: snapshot.seq }, "storing a snapshot failed");
    }
  }

  #halt(cause: SwitchyardError): void {
    if (this.#halted !== null) return;
    const halted = new SwitchyardError(
      "STORE_UNAVAILABLE",
      `the coordinator halted (${cause.code}: ${cause.message}); it must restart and replay its log`,
      { details: { reason: cause.code, durableSeq: this.#durable.seq }, cause },
    );
    this.#halted = halted;
    this.#o.logger.fatal({ err: cause, durableSeq: this.#durable.seq }, "sequencer halted");
    const queued = this.#queue.drain();
    const buffered = this.#buffer.splice(0);
    const waiters = this.#waiters.splice(0);
    for (const a of queued) a.settle({ ok: false, error: halted });
    for (const b of buffered) b.admission.settle({ ok: false, error: halted });
    for (const w of waiters) w.reject(halted);
    this.#pendingSnapshot = null;
    this.#o.onHalt(cause);
    this.#notifyIdle();
  }

  #notifyIdle(): void {
    if (this.#idleWaiters.length === 0) return;
    if (this.#queue.length > 0 || this.#buffer.length > 0 || this.#appending) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}

function overloaded(pending: number): SwitchyardError {
  return new SwitchyardError(
    "STORE_UNAVAILABLE",
    `the coordinator is overloaded (${pending} messages waiting); retry shortly`,
    { details: { reason: "overloaded", pending } },
  );
}

function stopping(): SwitchyardError {
  return new SwitchyardError(
    "STORE_UNAVAILABLE",
    "the coordinator is stopping; retry once it is back (read your account's nonce first)",
    { details: { reason: "stopping" } },
  );
}
