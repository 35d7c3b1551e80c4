/** Branded identifiers. A NodeId is never confused with a JobId at compile time. */
import { z } from "zod";

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** 64 lowercase hex digits: a SHA-256 digest or an Ed25519 public key. */
export type Hex32 = Brand<string, "Hex32">;
/** An identity: the hex Ed25519 public key of its signer. */
export type PublicKeyHex = Brand<string, "PublicKeyHex">;
export type NodeId = Brand<string, "NodeId">;
export type JobId = Brand<string, "JobId">;
export type OfferId = Brand<string, "OfferId">;
export type Cid = Brand<string, "Cid">;

export const hex32Schema = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits");

// The brands exist only at compile time: the schema is the same string check, typed with its
// brand, so it stays bidirectional for z.encode (a .transform() would make it decode-only).
const branded = <T extends string>() => hex32Schema as unknown as z.ZodType<T, string>;

export const publicKeySchema = branded<PublicKeyHex>();
export const cidSchema = branded<Cid>();
export const jobIdSchema = branded<JobId>();
export const offerIdSchema = branded<OfferId>();
export const nodeIdSchema = branded<NodeId>();
