/** Offers: a provider's standing ask for some of its capacity at a price per unit-second. */
import { SwitchyardError } from "../../protocol/errors.ts";
import { offerIdOf } from "../../protocol/hash.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { MessageContext } from "../context.ts";
import type { Offer } from "../state.ts";
import { indexOffer, unindexOffer } from "./offer-index.ts";

export function applyPostOffer(ctx: MessageContext, body: MessageBody<"postOffer">): Offer {
  const { state } = ctx;
  const node = state.nodes.get(ctx.signer);
  if (node === undefined) {
    throw new SwitchyardError("UNKNOWN_NODE", "register a node before posting offers");
  }
  if (body.resourceClass !== node.resourceClass) {
    throw new SwitchyardError(
      "MALFORMED",
      `this node registered resource class ${node.resourceClass}, not ${body.resourceClass}`,
    );
  }
  if (node.offered + body.capacity > node.capacity) {
    throw new SwitchyardError(
      "EXCEEDS_CAPACITY",
      `offers would exceed the node's capacity: ${node.offered} offered + ${body.capacity} > ${node.capacity}`,
    );
  }
  // The id binds the offer to its author and nonce, so it is unique and unforgeable.
  const id = offerIdOf(ctx.signer, ctx.nonce);
  const offer: Offer = {
    id,
    provider: ctx.signer,
    resourceClass: body.resourceClass,
    capacity: body.capacity,
    pricePerUnitSecond: body.pricePerUnitSecond,
    ...(body.pricePerGigabyte === undefined ? {} : { pricePerGigabyte: body.pricePerGigabyte }),
    postedAt: ctx.time,
    used: 0,
    active: true,
  };
  node.offered += body.capacity;
  state.offers.set(id, offer);
  indexOffer(state, offer);
  ctx.journal.offers.add(id);
  return offer;
}

/** Withdraw an offer: no new matches; capacity returns to the node once its running work ends. */
export function applyWithdrawOffer(ctx: MessageContext, body: MessageBody<"withdrawOffer">): void {
  const offer = ctx.state.offers.get(body.offerId);
  if (offer === undefined || !offer.active)
    throw new SwitchyardError("UNKNOWN_OFFER", `no active offer ${body.offerId}`);
  if (offer.provider !== ctx.signer)
    throw new SwitchyardError("NOT_AUTHORIZED", "only the provider can withdraw its offer");
  offer.active = false;
  ctx.journal.offers.add(offer.id);
  retireOfferIfIdle(ctx.state, offer);
}

/** Remove a withdrawn offer once nothing uses it, returning its capacity to the node. */
export function retireOfferIfIdle(state: MessageContext["state"], offer: Offer): void {
  if (offer.active || offer.used > 0) return;
  const node = state.nodes.get(offer.provider);
  if (node !== undefined) node.offered -= offer.capacity;
  state.offers.delete(offer.id);
  unindexOffer(state, offer);
}
