/**
 * The keystore: an Ed25519 identity (its 32-byte secret seed) in a JSON file that only its owner
 * can read. Whoever reads the file can sign as the node — move its stake, commit results in its
 * name — so the file is created with mode 0600, and a file that group or others can read is
 * refused rather than used, as OpenSSH does with private keys.
 *
 * ```json
 * { "type": "switchyard-ed25519-identity", "version": 1, "publicKey": "<64 hex>", "secret": "<64 hex>" }
 * ```
 */
import { randomUUID } from "node:crypto";
import { link, mkdir, open, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { fromHex, toHex } from "../protocol/bytes.ts";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Ed25519 } from "../protocol/ed25519.ts";
import { type Identity, identityFromSecret } from "../protocol/envelope.ts";
import { SwitchyardError } from "../protocol/errors.ts";
import { hex32Schema } from "../protocol/ids.ts";
import { syncPath } from "./durable-fs.ts";

const keyFileSchema = z.strictObject({
  type: z.literal("switchyard-ed25519-identity"),
  version: z.literal(1),
  publicKey: hex32Schema,
  secret: hex32Schema,
});

/** A key file is a few hundred bytes; anything much larger is not one, and is not parsed. */
const maxKeyFileBytes = 4096;

/** Windows has no Unix permission bits; there the file's ACL, not this check, protects it. */
const checksPermissions = process.platform !== "win32";

/**
 * Write `identity` to a new key file at `path`, readable and writable by its owner only. The file
 * appears complete or not at all (written aside, synced, then linked into place), and an existing
 * file is never overwritten: KEYSTORE if one is there, since losing a key loses what it holds.
 */
export async function saveIdentity(path: string, identity: Identity): Promise<void> {
  const target = resolve(path);
  if (identity.secret.length !== 32) {
    throw new SwitchyardError(
      "KEYSTORE",
      `an Ed25519 secret seed is 32 bytes, not ${identity.secret.length}`,
    );
  }
  const file: z.input<typeof keyFileSchema> = {
    type: "switchyard-ed25519-identity",
    version: 1,
    publicKey: identity.publicKey,
    secret: toHex(identity.secret),
  };
  const tmp = join(dirname(target), `.${randomUUID()}.key.tmp`);
  try {
    // A missing key directory (e.g. ~/.switchyard on a fresh machine) is created owner-only.
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    // Created with the mode, never chmod-ed afterwards: there is no moment when others can read it.
    const handle = await open(tmp, "wx", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // link, unlike rename, fails when the target exists: the no-overwrite check is atomic.
    await link(tmp, target);
    await syncPath(dirname(target));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new SwitchyardError(
      "KEYSTORE",
      code === "EEXIST"
        ? `a key file already exists at ${target}; move it away first if you really mean to replace it`
        : `could not write the key file ${target}: ${(error as Error).message}`,
      { details: { path: target }, cause: error },
    );
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Read the identity in the key file at `path`. NOT_FOUND when there is no file; KEYSTORE when it
 * is readable by group or others (the message says to `chmod 600` it), malformed, or its public key
 * does not belong to its secret.
 */
export async function loadIdentity(path: string, ed: Ed25519 = nodeEd25519): Promise<Identity> {
  const target = resolve(path);
  let text: string;
  try {
    const handle = await open(target, "r");
    try {
      // Checked on the open file, not the path, so a swap between check and read cannot slip by.
      const { mode, size } = await handle.stat();
      if (checksPermissions && (mode & 0o077) !== 0) {
        throw new SwitchyardError(
          "KEYSTORE",
          `key file ${target} is readable by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${target}\``,
          { details: { path: target, mode: (mode & 0o777).toString(8) } },
        );
      }
      if (size > maxKeyFileBytes) throw malformedKeyFile(target, `it is ${size} bytes`);
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof SwitchyardError) throw error;
    if ((error as { code?: unknown }).code === "ENOENT") {
      throw new SwitchyardError("NOT_FOUND", `there is no key file at ${target}`, {
        details: { path: target },
      });
    }
    throw new SwitchyardError(
      "KEYSTORE",
      `could not read the key file ${target}: ${(error as Error).message}`,
      {
        details: { path: target },
        cause: error,
      },
    );
  }
  let parsed: z.output<typeof keyFileSchema>;
  try {
    parsed = keyFileSchema.parse(JSON.parse(text));
  } catch (error) {
    throw malformedKeyFile(target, error instanceof Error ? error.message.slice(0, 200) : String(error));
  }
  const identity = identityFromSecret(ed, fromHex(parsed.secret));
  if (identity.publicKey !== parsed.publicKey) {
    throw malformedKeyFile(target, "its public key does not belong to its secret");
  }
  return identity;
}

function malformedKeyFile(path: string, why: string): SwitchyardError {
  return new SwitchyardError("KEYSTORE", `${path} is not a Switchyard key file: ${why}`, {
    details: { path },
  });
}
