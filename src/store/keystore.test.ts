import assert from "node:assert/strict";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { nodeEd25519 } from "../protocol/ed25519.node.ts";
import { identityFromSecret } from "../protocol/envelope.ts";
import { isSwitchyardError } from "../protocol/errors.ts";
import { loadIdentity, saveIdentity } from "./keystore.ts";

const alice = identityFromSecret(nodeEd25519, new Uint8Array(32).fill(7));
const bob = identityFromSecret(nodeEd25519, new Uint8Array(32).fill(9));
const keystoreError = (e: unknown) => isSwitchyardError(e, "KEYSTORE");

let dir = "";
let files = 0;
const fresh = () => join(dir, `node-${++files}.key`);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "switchyard-keystore-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("keystore", () => {
  test("a saved identity loads back with the same public key and secret", async () => {
    const path = fresh();
    await saveIdentity(path, alice);
    assert.deepEqual(await loadIdentity(path), alice);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith(".tmp")),
      [],
      "no temporary file is left beside the key",
    );
  });

  test("the key file is created with mode 0600, whatever the umask allows", async () => {
    const path = fresh();
    const umask = process.umask(0);
    try {
      await saveIdentity(path, alice);
    } finally {
      process.umask(umask);
    }
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o666]) {
    test(`error: a key file with mode ${mode.toString(8)} is refused with KEYSTORE, saying chmod 600`, async () => {
      const path = fresh();
      await saveIdentity(path, alice);
      await chmod(path, mode);
      await assert.rejects(
        loadIdentity(path),
        (e) =>
          keystoreError(e) &&
          e.message.includes(`chmod 600 ${path}`) &&
          e.details["mode"] === mode.toString(8),
      );
      await chmod(path, 0o600);
      assert.deepEqual(await loadIdentity(path), alice);
    });
  }

  test("a key file only its owner can read, even read-only (0400), loads", async () => {
    const path = fresh();
    await saveIdentity(path, alice);
    await chmod(path, 0o400);
    assert.deepEqual(await loadIdentity(path), alice);
  });

  test("error: saving over an existing key file is refused and leaves it unchanged", async () => {
    const path = fresh();
    await saveIdentity(path, alice);
    const before = await readFile(path, "utf8");
    await assert.rejects(
      saveIdentity(path, bob),
      (e) => keystoreError(e) && e.message.includes("already exists"),
    );
    assert.equal(await readFile(path, "utf8"), before);
    assert.deepEqual(await loadIdentity(path), alice);
  });

  test("error: no key file is NOT_FOUND", async () => {
    await assert.rejects(loadIdentity(join(dir, "absent.key")), (e) => isSwitchyardError(e, "NOT_FOUND"));
  });

  test("error: a file that is not a key file is refused with KEYSTORE", async () => {
    const good = JSON.parse(
      await (async () => {
        const path = fresh();
        await saveIdentity(path, alice);
        return readFile(path, "utf8");
      })(),
    );
    const bad = [
      "not json",
      JSON.stringify({ ...good, version: 2 }),
      JSON.stringify({ ...good, extra: true }),
      JSON.stringify({ ...good, secret: "zz".repeat(32) }),
      // A public key that does not belong to the secret: an edited or spliced file.
      JSON.stringify({ ...good, publicKey: bob.publicKey }),
      " ".repeat(5000),
    ];
    for (const text of bad) {
      const path = fresh();
      await writeFile(path, text, { mode: 0o600 });
      await assert.rejects(loadIdentity(path), keystoreError, text.slice(0, 40));
    }
  });

  test("error: a secret that is not 32 bytes is not saved", async () => {
    const path = fresh();
    await assert.rejects(saveIdentity(path, { ...alice, secret: new Uint8Array(31) }), keystoreError);
    await assert.rejects(stat(path));
  });
});

test("saving into a directory that does not exist yet creates it, owner-only", async () => {
  const base = await mkdtemp(join(tmpdir(), "keystore-dir-"));
  const file = join(base, "nested", "deeper", "identity.json");
  const identity = identityFromSecret(nodeEd25519, new Uint8Array(32).fill(9));
  await saveIdentity(file, identity);
  assert.equal((await loadIdentity(file)).publicKey, identity.publicKey);
  assert.equal((await stat(join(base, "nested", "deeper"))).mode & 0o777, 0o700);
});
