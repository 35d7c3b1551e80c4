/**
 * The audit: replay a stored log from genesis and check everything an operator could have faked —
 * the hash chain, every signature, every event's acceptance by the state machine, every invariant,
 * the snapshot's state hash, and (if given) the state hash the caller was told.
 */
import { apply, checkAllInvariants, createState, decodeState, stateHash } from "../core/index.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import { verifyEnvelope } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { Hex32 } from "../protocol/ids.ts";
import { genesisPrev, verifyChain } from "../protocol/log.ts";
import type { EventStore } from "./event-store.ts";

export interface AuditReport {
  readonly ok: boolean;
  readonly events: number;
  readonly signatures: number;
  readonly stateHash: Hex32 | null;
  readonly snapshotChecked: boolean;
  readonly error?: { readonly code: string; readonly message: string; readonly seq?: number };
  /** The acknowledged (seq, state hash) the replay reproduced, when one was expected. */
  readonly checkedAt?: { readonly seq: number; readonly stateHash: Hex32 };
}

/**
 * What the audit must reproduce: the state hash at the end of the log, or the hash a coordinator
 * acknowledged at `seq` (events sequenced after it — ticks, coordinate reports — are still audited,
 * but a later state is not the acknowledged one).
 */
export type AuditExpectation = Hex32 | { readonly seq: number; readonly stateHash: Hex32 };

export async function auditStore(
  store: EventStore,
  ed: Ed25519,
  expected?: AuditExpectation,
): Promise<AuditReport> {
  const expectedAt = typeof expected === "object" ? expected : undefined;
  const expectedStateHash = typeof expected === "string" ? expected : undefined;
  let checkedAt: { seq: number; stateHash: Hex32 } | undefined;
  const state = createState();
  const snapshot = await store.latestSnapshot();
  let prev = genesisPrev;
  let events = 0;
  let signatures = 0;
  let snapshotChecked = false;
  let seq: number | undefined;
  try {
    for await (const event of store.read(0)) {
      seq = event.seq;
      prev = verifyChain([event], prev, event.seq - 1);
      if (event.payload.kind === "msg") {
        verifyEnvelope(ed, event.payload.env);
        signatures++;
      }
      const result = apply(state, event);
      if (!result.ok) {
        throw new SwitchyardError(
          "INVARIANT_VIOLATED",
          `event ${event.seq} is rejected by the state machine: ${result.error.message}`,
          {
            details: { seq: event.seq },
          },
        );
      }
      events++;
      if (expectedAt !== undefined && event.seq === expectedAt.seq) {
        const hash = stateHash(state);
        if (hash !== expectedAt.stateHash) {
          throw new SwitchyardError(
            "STATE_HASH_MISMATCH",
            `replayed state hash at seq ${event.seq} is ${hash}, not the acknowledged ${expectedAt.stateHash}`,
            { details: { seq: event.seq } },
          );
        }
        checkedAt = { seq: event.seq, stateHash: hash };
      }
      if (snapshot !== null && snapshot.seq === event.seq) {
        const fromSnapshot = stateHash(decodeState(snapshot.state));
        const replayed = stateHash(state);
        if (fromSnapshot !== snapshot.stateHash || replayed !== snapshot.stateHash) {
          throw new SwitchyardError(
            "STATE_HASH_MISMATCH",
            `snapshot at seq ${snapshot.seq} does not match the replayed state`,
            {
              details: { seq: snapshot.seq },
            },
          );
        }
        snapshotChecked = true;
      }
    }
    checkAllInvariants(state);
    const hash = stateHash(state);
    if (expectedAt !== undefined && checkedAt === undefined) {
      throw new SwitchyardError(
        "STATE_HASH_MISMATCH",
        `the log ends before the acknowledged seq ${expectedAt.seq}: an acknowledged event is missing`,
        { details: { seq: expectedAt.seq } },
      );
    }
    if (expectedStateHash !== undefined && hash !== expectedStateHash) {
      throw new SwitchyardError(
        "STATE_HASH_MISMATCH",
        `replayed state hash ${hash} differs from the expected ${expectedStateHash}`,
      );
    }
    return {
      ok: true,
      events,
      signatures,
      stateHash: hash,
      snapshotChecked,
      ...(checkedAt === undefined ? {} : { checkedAt }),
    };
  } catch (error) {
    if (!isSwitchyardError(error)) throw error;
    const at = typeof error.details["seq"] === "number" ? (error.details["seq"] as number) : seq;
    return {
      ok: false,
      events,
      signatures,
      stateHash: null,
      snapshotChecked,
      error: { code: error.code, message: error.message, ...(at === undefined ? {} : { seq: at }) },
    };
  }
}
