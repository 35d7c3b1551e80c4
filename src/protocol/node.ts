/**
 * The Node-only part of the protocol API: adapters that use node: built-ins and so must stay out
 * of the isomorphic barrel (`./index.ts`). Coordinators and agents import both.
 *
 * @example
 * import { nodeEd25519 } from "../protocol/node.ts";
 * verifyEnvelope(nodeEd25519, env); // same verdicts as nobleEd25519, an order of magnitude faster
 */
export { nodeEd25519 } from "./ed25519.node.ts";
export * from "./job-crypto.node.ts";
