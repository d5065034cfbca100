// The SSH public key Azure requires on a Linux VM with password login disabled. From
// -ssh-key-path when set; otherwise a generated RSA key whose private half is dropped at once
// (upstream generates one per VM; one per process gives the same property — nobody can log in —
// without spending seconds of CPU on every create).
import { generateKeyPair } from "node:crypto";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { InvalidConfigError } from "../errors.ts";

const generate = promisify(generateKeyPair);

const KEY_LINE = /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,2})(?: .*)?$/;

function sshString(buf: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

/** An SSH mpint: big-endian, with a leading zero byte when the top bit is set. */
function sshMpint(buf: Buffer): Buffer {
  let b = buf;
  while (b.length > 1 && b[0] === 0 && (b[1] & 0x80) === 0) b = b.subarray(1);
  return sshString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** `ssh-rsa AAAA…` (RFC 4253 §6.6) from a JWK's modulus and exponent. */
export function rsaPublicKeyLine(jwk: { n?: string; e?: string }, comment = "peerpod"): string {
  if (!jwk.n || !jwk.e) throw new Error("not an RSA public key");
  const blob = Buffer.concat([
    sshString(Buffer.from("ssh-rsa")),
    sshMpint(Buffer.from(jwk.e, "base64url")),
    sshMpint(Buffer.from(jwk.n, "base64url")),
  ]);
  return `ssh-rsa ${blob.toString("base64")} ${comment}`;
}

export async function generatedPublicKey(bits = 4096): Promise<string> {
  const { publicKey } = await generate("rsa", { modulusLength: bits });
  return rsaPublicKeyLine(publicKey.export({ format: "jwk" }));
}

/** Read an OpenSSH public key file, expanding a leading ~ or $HOME as upstream's os.ExpandEnv does. */
export async function readPublicKey(path: string, home: string | undefined): Promise<string> {
  const expanded = home ? path.replace(/^(~|\$HOME|\$\{HOME\})(?=\/|$)/, home) : path;
  let text: string;
  try {
    text = await readFile(expanded, "utf8");
  } catch (err) {
    throw new InvalidConfigError(
      `Azure provider: cannot read SSH public key ${expanded} (-ssh-key-path): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const line = text.trim().split("\n")[0]?.trim() ?? "";
  if (!KEY_LINE.test(line)) {
    throw new InvalidConfigError(`Azure provider: ${expanded} (-ssh-key-path) is not an OpenSSH public key`);
  }
  return line;
}
