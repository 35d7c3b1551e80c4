/** `switchyard keygen`: a new Ed25519 identity in a 0600 key file. */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { nodeEd25519 } from "../../protocol/ed25519.node.ts";
import { identityFromSecret } from "../../protocol/envelope.ts";
import { SwitchyardError } from "../../protocol/errors.ts";
import { saveIdentity } from "../../store/keystore.ts";
import type { Output } from "../output.ts";

export interface KeygenOptions {
  readonly out: string;
  readonly force: boolean;
}

export async function keygen(options: KeygenOptions, out: Output): Promise<number> {
  if (existsSync(options.out) && !options.force) {
    throw new SwitchyardError(
      "KEYSTORE",
      `${options.out} already exists; pass --force to replace it (the old key is lost)`,
    );
  }
  const identity = identityFromSecret(nodeEd25519, new Uint8Array(randomBytes(32)));
  await saveIdentity(options.out, identity);
  out.result({ publicKey: identity.publicKey, file: options.out }, () =>
    [`new identity ${identity.publicKey}`, `written to ${options.out} (mode 0600)`].join("\n"),
  );
  return 0;
}
