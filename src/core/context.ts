/** What every handler receives: the state it may change, the journal, and where effects go. */
import type { Hex32, PublicKeyHex } from "../protocol/ids.ts";
import type { Effect } from "./effects.ts";
import type { Journal } from "./ledger/journal.ts";
import type { State } from "./state.ts";

export interface ApplyContext {
  readonly state: State;
  readonly journal: Journal;
  readonly effects: Effect[];
  /** Sequencer time of the event being applied. */
  readonly time: number;
  readonly seq: number;
  /** Hash of the previous event: the beacon of this one (verification/beacon.ts). */
  readonly prev: Hex32;
}

export interface MessageContext extends ApplyContext {
  readonly signer: PublicKeyHex;
  readonly nonce: bigint;
}
