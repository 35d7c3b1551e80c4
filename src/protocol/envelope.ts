/**
 * The signed envelope. A signature covers a domain tag, the protocol version, the network id, the
 * message type, the signer, its nonce and the body — so a signature made for a test network, an
 * older version or another message type can never be replayed as this one.
 */
import { z } from "zod";
import { concatBytes, fromHex, toHex, utf8 } from "./bytes.ts";
import { canonicalBytes } from "./canonical.ts";
import type { Ed25519 } from "./ed25519.ts";
import { SwitchyardError } from "./errors.ts";
import { type PublicKeyHex, publicKeySchema } from "./ids.ts";
import {
  type Message,
  type MessageBody,
  type MessageType,
  messageSchemas,
  messageTypes,
} from "./messages.ts";

export const protocolVersion = 1;

const nonceSchema = z.codec(
  z.string().regex(/^[1-9][0-9]{0,19}$/, "nonce is a positive decimal string"),
  z.bigint(),
  {
    decode: (s) => BigInt(s),
    encode: (b) => b.toString(),
  },
);

/** A decoded, typed envelope. */
export type Envelope<T extends MessageType = MessageType> = {
  [K in T]: {
    readonly v: typeof protocolVersion;
    readonly net: string;
    readonly type: K;
    readonly signer: PublicKeyHex;
    readonly nonce: bigint;
    readonly body: MessageBody<K>;
    readonly sig: string;
  };
}[T];

const headerSchema = z.strictObject({
  v: z.number().int(),
  net: z.string().min(1).max(64),
  type: z.enum(messageTypes as [MessageType, ...MessageType[]]),
  signer: publicKeySchema,
  nonce: nonceSchema,
  body: z.unknown(),
  sig: z.string().regex(/^[0-9a-f]{128}$/, "signature is 128 lowercase hex digits"),
});

function zodMessage(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}

/** The message a signer signs: everything but the signature, canonicalized, under a domain tag. */
function signingBytes(env: Omit<Envelope, "sig">): Uint8Array {
  const encoded = z.safeEncode(messageSchemas[env.type] as z.ZodType, env.body);
  // Only a hand-built envelope can get here with a body that does not fit its type; say so with a
  // typed error rather than let a ZodError escape from verification.
  if (!encoded.success) throw new SwitchyardError("MALFORMED", `${env.type}: ${zodMessage(encoded.error)}`);
  const wireBody = encoded.data;
  return concatBytes(
    utf8("switchyard:envelope\u0000"),
    canonicalBytes({
      v: env.v,
      net: env.net,
      type: env.type,
      signer: env.signer,
      nonce: env.nonce.toString(),
      body: wireBody,
    }),
  );
}

export interface Identity {
  readonly publicKey: PublicKeyHex;
  readonly secret: Uint8Array;
}

export function identityFromSecret(ed: Ed25519, secret: Uint8Array): Identity {
  return { publicKey: toHex(ed.publicKey(secret)) as PublicKeyHex, secret };
}

/** Sign a message. The body is validated against its schema first, so nothing invalid is signed. */
export function signEnvelope<T extends MessageType>(
  ed: Ed25519,
  who: Identity,
  net: string,
  nonce: bigint,
  type: T,
  body: z.input<(typeof messageSchemas)[T]> | MessageBody<T>,
): Envelope<T> {
  const schema = messageSchemas[type] as z.ZodType;
  // Accept the wire form or a decoded body (bigint amounts); every bigint in a message is an
  // amount, whose wire form is its decimal string, so normalize to the wire form and decode.
  const parsed = schema.safeParse(bigintsToDecimal(body));
  if (!parsed.success) throw new SwitchyardError("MALFORMED", `${type}: ${zodMessage(parsed.error)}`);
  const decoded = parsed.data;
  const unsigned = { v: protocolVersion, net, type, signer: who.publicKey, nonce, body: decoded } as Omit<
    Envelope<T>,
    "sig"
  >;
  const sig = toHex(ed.sign(who.secret, signingBytes(unsigned as Omit<Envelope, "sig">)));
  return { ...unsigned, sig } as Envelope<T>;
}

function bigintsToDecimal(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(bigintsToDecimal);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bigintsToDecimal(v)]));
  }
  return value;
}

/** Decode and validate an envelope from parsed JSON. Throws MALFORMED / WRONG_VERSION / WRONG_NETWORK. */
export function decodeEnvelope(json: unknown, expectedNet: string): Envelope {
  // The version is checked before the shape: a newer version may add header fields, and its
  // sender needs to hear "wrong version" (upgrade), not "malformed" (fix your client).
  const v = typeof json === "object" && json !== null ? (json as { v?: unknown }).v : undefined;
  if (typeof v === "number" && v !== protocolVersion) {
    throw new SwitchyardError(
      "WRONG_VERSION",
      `protocol version ${v} is not supported; this node speaks ${protocolVersion}`,
      {
        details: { expected: protocolVersion, got: v },
      },
    );
  }
  const header = headerSchema.safeParse(json);
  if (!header.success) {
    throw new SwitchyardError("MALFORMED", `envelope: ${zodMessage(header.error)}`);
  }
  const h = header.data;
  if (h.net !== expectedNet) {
    throw new SwitchyardError(
      "WRONG_NETWORK",
      `message is for network '${h.net}', this is '${expectedNet}'`,
      {
        details: { expected: expectedNet, got: h.net },
      },
    );
  }
  const body = (messageSchemas[h.type] as z.ZodType).safeParse(h.body);
  if (!body.success) {
    throw new SwitchyardError("MALFORMED", `${h.type}: ${zodMessage(body.error)}`);
  }
  return { ...h, v: protocolVersion, body: body.data } as Envelope;
}

/** The wire (JSON) form of an envelope: decimal strings for amounts and nonce. */
export function encodeEnvelope(env: Envelope): Record<string, unknown> {
  return {
    v: env.v,
    net: env.net,
    type: env.type,
    signer: env.signer,
    nonce: env.nonce.toString(),
    body: z.encode(messageSchemas[env.type] as z.ZodType, env.body),
    sig: env.sig,
  };
}

/**
 * Throws BAD_SIGNATURE unless the signature is valid for the envelope's signer (MALFORMED if the
 * body does not fit its type, which only a hand-built envelope can do).
 */
export function verifyEnvelope(ed: Ed25519, env: Envelope): void {
  const ok = ed.verify(fromHex(env.signer), signingBytes(env), fromHex(env.sig));
  if (!ok) {
    throw new SwitchyardError(
      "BAD_SIGNATURE",
      `signature of ${env.type} by ${env.signer.slice(0, 12)}… does not verify`,
      {
        details: { signer: env.signer, nonce: env.nonce.toString() },
      },
    );
  }
}

/** The decoded message inside an envelope, as the state machine sees it. */
export function messageOf(env: Envelope): Message {
  return { type: env.type, body: env.body } as Message;
}
