/** Node registration: one node per identity, with where it is, what it has and how fast it ran. */
import { SwitchyardError } from "../../protocol/errors.ts";
import type { MessageBody } from "../../protocol/messages.ts";
import type { MessageContext } from "../context.ts";

export function applyRegisterNode(ctx: MessageContext, body: MessageBody<"registerNode">): void {
  const { state } = ctx;
  if (state.nodes.has(ctx.signer)) {
    throw new SwitchyardError(
      "NODE_EXISTS",
      "this identity already registered a node; use another key for another node",
    );
  }
  if (!body.jurisdictions.includes(body.country)) {
    throw new SwitchyardError("MALFORMED", `jurisdictions must include the node's country ${body.country}`);
  }
  state.nodes.set(ctx.signer, {
    id: ctx.signer,
    name: body.name,
    city: body.city,
    country: body.country,
    jurisdictions: [...body.jurisdictions].sort(),
    latE6: body.latE6,
    lonE6: body.lonE6,
    resourceClass: body.resourceClass,
    capacity: body.capacity,
    throughput: body.throughput,
    ...(body.endpoint === undefined ? {} : { endpoint: body.endpoint }),
    registeredAt: ctx.time,
    offered: 0,
    openStages: 0,
  });
}
