/**
 * Bringing a provider's standing on the network up to what its options ask for, idempotently:
 * every step looks first and acts only if needed, so an agent that restarts (or runs twice) sends
 * nothing it already sent. Order matters: funds before the bond, the bond before the offer (the
 * matcher ignores offers of nodes below the minimum stake), and the node before anything else.
 */
import type { NodeView } from "../protocol/api.ts";
import type { Identity } from "../protocol/envelope.ts";
import { isSwitchyardError, SwitchyardError } from "../protocol/errors.ts";
import type { MessageBody } from "../protocol/messages.ts";
import type { Client } from "../sdk/create-client.ts";
import { getAccount } from "../sdk/get-account.ts";
import { getNodes } from "../sdk/get-nodes.ts";
import { signAndSubmit } from "../sdk/sign-and-submit.ts";

/** Where a node is and what it offers: registerNode's body without throughput and endpoint. */
export type ProviderNode = Omit<MessageBody<"registerNode">, "throughput" | "endpoint">;

export interface OnboardOptions {
  readonly client: Client;
  readonly identity: Identity;
  readonly node: ProviderNode;
  /** The URL where this agent serves blobs and loops. */
  readonly endpoint: string;
  /** Measures throughput; called only when the node must be registered. */
  readonly benchmark: () => number;
  /** Bonded stake to hold, in micro-credits. */
  readonly stake: bigint;
  readonly pricePerUnitSecond: bigint;
  /** Egress price of the outputs it serves, or a relay's forwarding price, µ per 10^9 bytes. */
  readonly pricePerGigabyte?: bigint | undefined;
  readonly offerCapacity: number;
  /** Top up from the dev faucet when the available balance cannot cover the bond. */
  readonly devFaucet: boolean;
  /** Extra credits to request from the faucet beyond the bond (fees, later bonds). */
  readonly faucetMargin: bigint;
}

/** What onboarding did (each false when it was already so) and the node as the coordinator has it. */
export interface OnboardReport {
  readonly registered: boolean;
  readonly throughput: number;
  readonly fauceted: bigint;
  readonly bonded: bigint;
  readonly offered: boolean;
  /** The endpoint registered for this node; differs from `endpoint` if it registered elsewhere earlier. */
  readonly registeredEndpoint: string | undefined;
}

/** This identity's node, if the coordinator knows one. */
export async function findOwnNode(client: Client, identity: Identity): Promise<NodeView | undefined> {
  return (await getNodes(client)).find((n) => n.id === identity.publicKey);
}

/**
 * Registers, funds, bonds and offers as needed.
 *
 * ```ts
 * const report = await onboard({ client, identity, node, endpoint, benchmark: () => runStandardBenchmark().throughput, … });
 * ```
 */
export async function onboard(options: OnboardOptions): Promise<OnboardReport> {
  const { client, identity } = options;
  let node = await findOwnNode(client, identity);
  let registered = false;
  let throughput = node?.throughput ?? 0;
  if (node === undefined) {
    throughput = options.benchmark();
    try {
      await signAndSubmit(client, {
        identity,
        type: "registerNode",
        body: { ...options.node, throughput, endpoint: options.endpoint },
      });
      registered = true;
    } catch (error) {
      // Another process with this key registered it in between: fine, it is registered.
      if (!isSwitchyardError(error, "NODE_EXISTS")) throw error;
    }
    node = await findOwnNode(client, identity);
    throughput = node?.throughput ?? throughput;
  }

  const account = await getAccount(client, { key: identity.publicKey });
  const staked = BigInt(account.staked);
  const toBond = options.stake > staked ? options.stake - staked : 0n;
  let fauceted = 0n;
  if (toBond > BigInt(account.available)) {
    if (!options.devFaucet) {
      throw new SwitchyardError(
        "INSUFFICIENT_FUNDS",
        `bonding ${toBond} µ needs more than the ${account.available} µ available to ${identity.publicKey}; transfer credits to it, or use the dev faucet on a dev network`,
        { details: { needed: toBond.toString(), available: account.available } },
      );
    }
    fauceted = toBond - BigInt(account.available) + options.faucetMargin;
    try {
      await signAndSubmit(client, { identity, type: "faucet", body: { amount: fauceted } });
    } catch (error) {
      if (isSwitchyardError(error, "FAUCET_DISABLED")) {
        throw new SwitchyardError(
          "FAUCET_DISABLED",
          `this network has no faucet; transfer at least ${toBond} µ to ${identity.publicKey} and start again`,
          { cause: error },
        );
      }
      throw error;
    }
  }
  if (toBond > 0n) await signAndSubmit(client, { identity, type: "bond", body: { amount: toBond } });

  let offered = false;
  if (!(node?.offers ?? []).some((o) => o.active)) {
    await signAndSubmit(client, {
      identity,
      type: "postOffer",
      body: {
        resourceClass: options.node.resourceClass,
        capacity: options.offerCapacity,
        pricePerUnitSecond: options.pricePerUnitSecond,
        ...(options.pricePerGigabyte === undefined ? {} : { pricePerGigabyte: options.pricePerGigabyte }),
      },
    });
    offered = true;
  }
  return { registered, throughput, fauceted, bonded: toBond, offered, registeredEndpoint: node?.endpoint };
}
