import type { Receipt } from "../protocol/api.ts";
import { type Envelope, type Identity, signEnvelope } from "../protocol/envelope.ts";
import { isSwitchyardError, type SwitchyardError } from "../protocol/errors.ts";
import type { MessageBody, MessageType, WireMessageBody } from "../protocol/messages.ts";
import type { Client, NonceSlot } from "./create-client.ts";
import { getAccount } from "./get-account.ts";
import { networkId } from "./internal/network-id.ts";
import { submitEnvelope } from "./submit-envelope.ts";

export interface SignAndSubmitParameters<T extends MessageType> {
  readonly identity: Identity;
  readonly type: T;
  /** The body in wire form (amounts as decimal strings) or decoded form (bigint amounts). */
  readonly body: WireMessageBody<T> | MessageBody<T>;
}

export interface SignAndSubmitReturnType<T extends MessageType> {
  readonly receipt: Receipt;
  readonly envelope: Envelope<T>;
}

/**
 * MALFORMED when the body does not fit its type (nothing is sent); the coordinator's rejection
 * (INSUFFICIENT_FUNDS, NOT_AUTHORIZED, …; NONCE_REPLAYED only if it persists after one refetch);
 * UNREACHABLE when the coordinator cannot be reached.
 */
export type SignAndSubmitErrorType = SwitchyardError;

/**
 * Signs a message with the identity's next nonce and submits it.
 *
 * Nonces come from a per-identity cache on the client, filled from GET /v1/accounts/:key. The
 * submissions of one identity are signed and sent one at a time, in call order: the core accepts
 * a nonce only above the signer's last, so two requests in flight could arrive swapped and the
 * lower one be refused — and message order matters (register before offer). A NONCE_REPLAYED
 * answer (another process signed with the same key) refetches the nonce and retries once. After
 * an unreachable coordinator the outcome is unknown, so the cache is dropped and the next call
 * asks the coordinator; the message itself is not resent.
 *
 * @example
 * const { receipt } = await signAndSubmit(client, { identity, type: "bond", body: { amount: "5000000" } });
 * console.log(`bonded at seq ${receipt.seq}`);
 */
export function signAndSubmit<T extends MessageType>(
  client: Client,
  parameters: SignAndSubmitParameters<T>,
): Promise<SignAndSubmitReturnType<T>> {
  const key = parameters.identity.publicKey;
  let slot = client.internals.nonces.get(key);
  if (slot === undefined) {
    slot = { last: undefined, tail: Promise.resolve() };
    client.internals.nonces.set(key, slot);
  }
  const own = slot;
  const run = own.tail.then(() => submitInOrder(client, own, parameters));
  own.tail = run.catch(() => {});
  return run;
}

async function submitInOrder<T extends MessageType>(
  client: Client,
  slot: NonceSlot,
  parameters: SignAndSubmitParameters<T>,
): Promise<SignAndSubmitReturnType<T>> {
  const net = await networkId(client);
  for (let attempt = 0; ; attempt++) {
    if (slot.last === undefined) {
      slot.last = BigInt((await getAccount(client, { key: parameters.identity.publicKey })).nonce);
    }
    const envelope = signEnvelope(
      client.ed,
      parameters.identity,
      net,
      slot.last + 1n,
      parameters.type,
      parameters.body,
    );
    try {
      const receipt = await submitEnvelope(client, { envelope });
      slot.last = envelope.nonce;
      return { receipt, envelope };
    } catch (error) {
      // A refusal by the state machine consumed no nonce (only accepted events are logged), so
      // the cache stays; anything else leaves the outcome unknown and the cache is dropped.
      const refused =
        isSwitchyardError(error) &&
        typeof error.details["httpStatus"] === "number" &&
        (error.details["httpStatus"] as number) < 500;
      if (!refused || isSwitchyardError(error, "NONCE_REPLAYED")) slot.last = undefined;
      if (isSwitchyardError(error, "NONCE_REPLAYED") && attempt === 0) continue;
      throw error;
    }
  }
}
