/**
 * The public API of the protocol layer: everything here is isomorphic (browser and Node), so the
 * SDK and the dashboard can import this barrel. Node-only adapters live in `./node.ts`.
 *
 * @example
 * import { decodeEnvelope, nobleEd25519, parseJsonLimited, verifyEnvelope } from "../protocol/index.ts";
 * const env = decodeEnvelope(parseJsonLimited(body), "mainnet");
 * verifyEnvelope(nobleEd25519, env);
 */
export * from "./api.ts";
export * from "./bytes.ts";
export * from "./canonical.ts";
export * from "./ed25519.noble.ts";
export type * from "./ed25519.ts";
export * from "./envelope.ts";
export * from "./errors.ts";
export * from "./geo.ts";
export * from "./hash.ts";
export * from "./http-status.ts";
export * from "./ids.ts";
export * from "./job-spec.ts";
export * from "./json.ts";
export * from "./log.ts";
export * from "./merkle.ts";
export * from "./messages.ts";
export * from "./money.ts";
export * from "./params.ts";
export * from "./receipt.ts";
