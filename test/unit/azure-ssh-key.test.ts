// The generated SSH key is a well-formed OpenSSH RSA public key (RFC 4253 §6.6).
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidConfigError } from "../../providers/errors.ts";
import { readPublicKey, rsaPublicKeyLine } from "../../providers/azure/ssh-key.ts";

function readString(buf: Buffer, at: number): [Buffer, number] {
  const len = buf.readUInt32BE(at);
  return [buf.subarray(at + 4, at + 4 + len), at + 4 + len];
}

test("rsaPublicKeyLine encodes type, exponent and modulus as SSH strings and mpints", () => {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = publicKey.export({ format: "jwk" });
  const line = rsaPublicKeyLine(jwk);
  const [type, b64, comment] = line.split(" ");
  assert.equal(type, "ssh-rsa");
  assert.equal(comment, "peerpod");
  const blob = Buffer.from(b64, "base64");
  const [name, a] = readString(blob, 0);
  const [e, b] = readString(blob, a);
  const [n, end] = readString(blob, b);
  assert.equal(name.toString(), "ssh-rsa");
  assert.equal(end, blob.length);
  assert.deepEqual(e, Buffer.from(jwk.e ?? "", "base64url"));
  assert.equal(n[0], 0, "a modulus with its top bit set gets a leading zero byte");
  assert.deepEqual(n.subarray(1), Buffer.from(jwk.n ?? "", "base64url"));
});

test("readPublicKey expands ~ and refuses a file that is not a public key", async () => {
  const dir = await mkdtemp(join(tmpdir(), "azure-ssh-"));
  try {
    await writeFile(join(dir, "id.pub"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw user@host\n");
    assert.equal(await readPublicKey("~/id.pub", dir), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw user@host");
    await writeFile(join(dir, "id"), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    await assert.rejects(readPublicKey(join(dir, "id"), dir), InvalidConfigError);
    await assert.rejects(readPublicKey(join(dir, "missing.pub"), dir), /cannot read SSH public key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
