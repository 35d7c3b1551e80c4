/**
 * An in-process network: the production sequencing path (verify signature → stamp → apply → hash
 * → append) on a simulated clock, with deterministic identities. The simulation tests, the
 * benchmarks and the `npm start` scenario all drive the real core through it.
 */
import { apply, createState, type Effect, type State, sequenceEvent, stateHash } from "../core/index.ts";
import { utf8 } from "../protocol/bytes.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import {
  decodeEnvelope,
  type Envelope,
  type Identity,
  identityFromSecret,
  signEnvelope,
  verifyEnvelope,
} from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { sha256 } from "../protocol/hash.ts";
import type { Hex32, PublicKeyHex } from "../protocol/ids.ts";
import { defaultJsonLimits, type JsonLimits, parseJsonLimited } from "../protocol/json.ts";
import {
  genesisEvent,
  genesisPrev,
  hashLogEvent,
  type LogPayload,
  type StoredEvent,
} from "../protocol/log.ts";
import type { MessageBody, MessageType } from "../protocol/messages.ts";
import { defaultParams, type Params } from "../protocol/params.ts";

/** A deterministic identity from a name: for simulations and demos only, never for real keys. */
export function simIdentity(name: string, ed: Ed25519 = nodeEd25519): Identity {
  return identityFromSecret(ed, sha256(utf8(`switchyard-sim-identity:${name}`)));
}

export interface Receipt {
  readonly seq: number;
  readonly hash: Hex32;
}

export type SubmitOutcome =
  | { readonly ok: true; readonly receipt: Receipt; readonly effects: readonly Effect[] }
  | { readonly ok: false; readonly error: SwitchyardError };

export interface LocalNetworkOptions {
  readonly net?: string;
  readonly params?: Partial<Params>;
  readonly devFaucet?: boolean;
  /** Simulated wall clock at genesis, in ms since the epoch. */
  readonly startTime?: number;
  readonly ed?: Ed25519;
  /** Verify every signature before sequencing (the production rule). Off only for raw core benchmarks. */
  readonly verifySignatures?: boolean;
}

export class LocalNetwork {
  readonly net: string;
  readonly state: State = createState();
  readonly log: StoredEvent[] = [];
  readonly ed: Ed25519;
  /** The simulated wall clock, in ms. Advance it with `advance`. */
  now: number;
  private head: Hex32 = genesisPrev;
  private readonly nonces = new Map<PublicKeyHex, bigint>();
  private readonly verify: boolean;

  constructor(options: LocalNetworkOptions = {}) {
    this.net = options.net ?? "sim";
    this.ed = options.ed ?? nodeEd25519;
    this.now = options.startTime ?? Date.UTC(2026, 0, 1);
    this.verify = options.verifySignatures ?? true;
    const params = { ...defaultParams, ...options.params };
    const genesis = genesisEvent(this.net, params, options.devFaucet ?? true, this.now);
    const result = apply(this.state, genesis);
    if (!result.ok) throw result.error;
    this.append(genesis);
  }

  get headHash(): Hex32 {
    return this.head;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  /** Sign a message as `who` with its next nonce. */
  sign<T extends MessageType>(
    who: Identity,
    type: T,
    body: Parameters<typeof signEnvelope<T>>[5],
  ): Envelope<T> {
    const nonce = (this.nonces.get(who.publicKey) ?? 0n) + 1n;
    this.nonces.set(who.publicKey, nonce);
    return signEnvelope(this.ed, who, this.net, nonce, type, body);
  }

  /**
   * The ingress path for bytes from outside: size and depth limits before parsing, schema
   * decoding, network check, then `submit`. Every failure is a typed rejection that changes nothing.
   */
  submitWire(text: string, limits: JsonLimits = defaultJsonLimits): SubmitOutcome {
    let env: Envelope;
    try {
      env = decodeEnvelope(parseJsonLimited(text, limits), this.net);
    } catch (error) {
      if (error instanceof SwitchyardError) return { ok: false, error };
      throw error;
    }
    return this.submit(env);
  }

  /** The sequencing path: verify, stamp, apply, and append only what the machine accepted. */
  submit(env: Envelope): SubmitOutcome {
    try {
      if (this.verify) verifyEnvelope(this.ed, env);
    } catch (error) {
      if (error instanceof SwitchyardError) return { ok: false, error };
      throw error;
    }
    return this.sequence({ kind: "msg", env });
  }

  /** Sign and submit in one step. */
  send<T extends MessageType>(
    who: Identity,
    type: T,
    body: MessageBody<T> | Parameters<typeof signEnvelope<T>>[5],
  ): SubmitOutcome {
    return this.submit(this.sign(who, type, body) as Envelope);
  }

  tick(): SubmitOutcome {
    return this.sequence({ kind: "sys", sys: { type: "tick" } });
  }

  stateHash(): Hex32 {
    return stateHash(this.state);
  }

  private sequence(payload: LogPayload): SubmitOutcome {
    const event = sequenceEvent(this.state, this.head, payload, this.now);
    const result = apply(this.state, event);
    if (!result.ok) return result;
    const stored = this.append(event);
    return { ok: true, receipt: { seq: stored.seq, hash: stored.hash }, effects: result.effects };
  }

  private append(event: Parameters<typeof hashLogEvent>[0]): StoredEvent {
    const stored = { ...event, hash: hashLogEvent(event) };
    this.log.push(stored);
    this.head = stored.hash;
    // Sequencer time never runs behind the clock it was stamped from; keep the clock in step.
    if (stored.time > this.now) this.now = stored.time;
    return stored;
  }
}
