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
    ...(body.bytesPerSecond === undefined ? {} : { bytesPerSecond: body.bytesPerSecond }),
    registeredAt: ctx.time,
    offered: 0,
    openStages: 0,
  });
}

/**
 * Stores the signer's latest network coordinate on its node (the one before is replaced: only the
 * newest describes the node). The agents measure and compute it (src/agent/rtt-probe.ts); the core
 * only keeps it, so `predictRtt` can estimate the RTT between any two nodes without probing them.
 */
export function applyReportCoordinate(ctx: MessageContext, body: MessageBody<"reportCoordinate">): void {
  const node = ctx.state.nodes.get(ctx.signer);
  if (node === undefined) {
    throw new SwitchyardError(
      "UNKNOWN_NODE",
      "only a registered node reports a network coordinate: send registerNode first",
    );
  }
  const { vectorUs, heightUs, errorPpm } = body.coordinate;
  node.coordinate = { vectorUs: [...vectorUs], heightUs, errorPpm, reportedAt: ctx.time };
}
