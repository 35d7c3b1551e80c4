/** The SDK client and identity as the CLI commands use them. */
import { homedir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import type { Identity } from "../protocol/envelope.ts";
import { type Client, createClient } from "../sdk/index.ts";
import { loadIdentity } from "../store/keystore.ts";

export const defaultCoordinatorUrl = process.env["SWITCHYARD_COORDINATOR"] ?? "http://127.0.0.1:7300";
export const defaultKeyFile =
  process.env["SWITCHYARD_KEY"] ?? join(homedir(), ".switchyard", "identity.json");

export function cliClient(url: string): Client {
  return createClient({ url, WebSocket: WebSocket as never, ed: nodeEd25519 });
}

export function cliIdentity(file: string): Promise<Identity> {
  return loadIdentity(file, nodeEd25519);
}
