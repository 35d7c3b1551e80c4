/**
 * Realistic logs for store tests and the append benchmark: a genesis, then signed transfer
 * envelopes between a handful of identities, with a tick every so often, chained with
 * hashLogEvent exactly as the sequencer chains them.
 */
import { nodeEd25519 } from "../../protocol/ed25519.node.ts";
import { type Identity, identityFromSecret, signEnvelope } from "../../protocol/envelope.ts";
import type { Hex32 } from "../../protocol/ids.ts";
import {
  genesisEvent,
  hashLogEvent,
  type LogEvent,
  type LogPayload,
  type StoredEvent,
} from "../../protocol/log.ts";
import { defaultParams } from "../../protocol/params.ts";

/** The network id of sample logs. */
export const sampleNet = "store-test";

/** Sequencer time of event 0; event n is stamped n ms later. */
const startTime = 1_767_225_600_000;

/** Attach its hash to an event. */
export function sealEvent(event: LogEvent): StoredEvent {
  return { ...event, hash: hashLogEvent(event) };
}

/** The event after `prev` carrying `payload`, correctly chained. */
export function nextEvent(prev: StoredEvent, payload: LogPayload): StoredEvent {
  return sealEvent({ seq: prev.seq + 1, time: prev.time + 1, prev: prev.hash as Hex32, payload });
}

const senders: readonly Identity[] = Array.from({ length: 8 }, (_, i) =>
  identityFromSecret(nodeEd25519, new Uint8Array(32).fill(i + 1)),
);

/**
 * A chain of `count` events starting with genesis. Every tenth event after genesis is a tick; the
 * rest are signed transfers with increasing nonces per sender, so no two envelopes are alike.
 */
export function sampleLog(count: number, net = sampleNet): StoredEvent[] {
  const events: StoredEvent[] = [];
  if (count <= 0) return events;
  let prev = sealEvent(genesisEvent(net, defaultParams, true, startTime));
  events.push(prev);
  const nonces = senders.map(() => 0n);
  for (let seq = 1; seq < count; seq++) {
    prev = nextEvent(
      prev,
      seq % 10 === 0 ? { kind: "sys", sys: { type: "tick" } } : transferPayload(net, seq, nonces),
    );
    events.push(prev);
  }
  return events;
}

function transferPayload(net: string, seq: number, nonces: bigint[]): LogPayload {
  const from = seq % senders.length;
  const to = senders[(from + 1) % senders.length]!;
  nonces[from] = nonces[from]! + 1n;
  const env = signEnvelope(nodeEd25519, senders[from]!, net, nonces[from]!, "transfer", {
    to: to.publicKey,
    amount: BigInt(1_000_000 + seq),
  });
  return { kind: "msg", env };
}
