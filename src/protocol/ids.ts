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
export const publicKeySchema = hex32Schema.transform((s) => s as PublicKeyHex);
export const cidSchema = hex32Schema.transform((s) => s as Cid);
export const jobIdSchema = hex32Schema.transform((s) => s as JobId);
export const offerIdSchema = hex32Schema.transform((s) => s as OfferId);
export const nodeIdSchema = hex32Schema.transform((s) => s as NodeId);
