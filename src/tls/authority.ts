// The daemon's TLS material, kept on disk so a restarted daemon still trusts (and is trusted by) the
// VMs it created before. Upstream generates the same material in memory at start-up, or persists it
// in one JSON file (CAA pkg/util/tlsutil/persist.go); the shapes are upstream's:
//   ca.crt/ca.key         - CA (O=agent-protocol-forwarder) that issues one server cert per VM name,
//   client.crt/client.key - self-signed client cert (O=cloud-api-adaptor, clientAuth); the VM trusts
//                           exactly this cert: it is apf.json's `tls-client-ca` (docs/upstream-compat.md §3.3).
import { X509Certificate, createPrivateKey } from "node:crypto";
import { constants } from "node:fs";
import { chmod, open, stat } from "node:fs/promises";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { ensurePrivateDir } from "../util/private-dir.ts";
import path from "node:path";
import type { Logger } from "../log/logger.ts";
import { generateCertificate, loadSigner, type CertAndKey, type Signer } from "./certgen.ts";

export const CA_ORG = "agent-protocol-forwarder";
export const CLIENT_ORG = "cloud-api-adaptor";

export interface CertAuthorityOptions {
  logger?: Logger;
  /** Validity of a newly created CA and client cert; long, because running VMs trust these exact certs. */
  rootValidDays?: number;
  /** Validity of each VM's server cert (upstream: 2 years), clamped into the CA's. */
  serverValidDays?: number;
}

export class TlsMaterialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsMaterialError";
  }
}

export interface PairFiles {
  what: string;
  cert: string;
  key: string;
}

export class CertAuthority {
  readonly dir: string;
  readonly caCertPem: string;
  readonly clientCertPem: string;
  readonly #clientKeyPem: string;
  readonly #caKeyPem: string;
  #signer?: Promise<Signer>;
  readonly #serverValidDays: number;

  private constructor(dir: string, ca: CertAndKey, client: CertAndKey, serverValidDays: number) {
    this.dir = dir;
    this.caCertPem = ca.certPem;
    this.#caKeyPem = ca.keyPem;
    this.clientCertPem = client.certPem;
    this.#clientKeyPem = client.keyPem;
    this.#serverValidDays = serverValidDays;
  }

  /** The client key, for building the TLS client context. Never log it. */
  get clientKeyPem(): string {
    return this.#clientKeyPem;
  }

  /** What the VM must trust for client certs: apf.json `tls-client-ca` (upstream ClientCA()). */
  get clientCaPem(): string {
    return this.clientCertPem;
  }

  /**
   * Load the CA and client cert from `dir`, creating whichever is missing (dir 0700, files 0600).
   * A cert without its key is an error, not a silent regeneration: VMs may still trust that cert.
   */
  static async loadOrCreate(dir: string, opts: CertAuthorityOptions = {}): Promise<CertAuthority> {
    const rootDays = opts.rootValidDays ?? 3650;
    await ensurePrivateDir(dir);
    const ca = await loadOrCreatePair(
      { what: "CA", cert: path.join(dir, "ca.crt"), key: path.join(dir, "ca.key") },
      () => generateCertificate({ org: CA_ORG, isCa: true, validDays: rootDays }),
      opts.logger,
    );
    const caCert = new X509Certificate(ca.certPem);
    if (!caCert.ca) throw new TlsMaterialError(`${path.join(dir, "ca.crt")} is not a CA certificate`);
    const client = await loadOrCreatePair(
      { what: "client certificate", cert: path.join(dir, "client.crt"), key: path.join(dir, "client.key") },
      () => generateCertificate({ org: CLIENT_ORG, isClient: true, validDays: rootDays }),
      opts.logger,
    );
    // What loadSigner will import when the first certificate is issued: refused at start, as before.
    const caKey = createPrivateKey(ca.keyPem);
    if (caKey.asymmetricKeyType !== "ec" || caKey.asymmetricKeyDetails?.namedCurve !== "prime256v1")
      throw new TlsMaterialError(`${path.join(dir, "ca.key")} is not an ECDSA P-256 key`);
    return new CertAuthority(dir, ca, client, opts.serverValidDays ?? 730);
  }

  /** A server cert and key for a VM: CN and SAN DNS = `name` (the instance name the proxy verifies). */
  async issueServerCert(name: string): Promise<CertAndKey> {
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(name))
      throw new TlsMaterialError(
        `cannot issue a server certificate for ${JSON.stringify(name)}: not a DNS name`,
      );
    this.#signer ??= loadSigner({ certPem: this.caCertPem, keyPem: this.#caKeyPem });
    return generateCertificate({
      org: CA_ORG,
      name,
      validDays: this.#serverValidDays,
      issuer: await this.#signer,
    });
  }
}

export async function loadOrCreatePair(
  files: PairFiles,
  create: () => Promise<CertAndKey>,
  logger: Logger | undefined,
): Promise<CertAndKey> {
  const [certPem, keyPem] = await Promise.all([readIfExists(files.cert), readIfExists(files.key)]);
  if (certPem !== undefined && keyPem === undefined)
    throw new TlsMaterialError(
      `${files.key} is missing but ${files.cert} exists: restore the key, or delete ${files.cert} to create a new ${files.what} (VMs created before will no longer connect)`,
    );
  if (certPem !== undefined && keyPem !== undefined) {
    const pair = { certPem, keyPem };
    const expired = checkPair(files, pair);
    if (!expired) {
      await tightenKeyMode(files.key, logger);
      return pair;
    }
    logger?.warn({ file: files.cert }, `${files.what} has expired; creating a new one`);
  } else if (keyPem !== undefined) {
    // A key without its cert can only be left by an interrupted creation: nothing can trust it yet.
    logger?.warn({ file: files.key }, `${files.what} key without certificate; creating a new pair`);
  }
  const pair = await create();
  // Key first: a crash in between leaves a key without a cert, which the branch above recovers from.
  await writeFileAtomic(files.key, pair.keyPem, { mode: 0o600 });
  await writeFileAtomic(files.cert, pair.certPem, { mode: 0o600 });
  logger?.info({ file: files.cert }, `created ${files.what}`);
  return pair;
}

/** Validate a stored pair; returns true when the certificate has expired. */
function checkPair(files: PairFiles, pair: CertAndKey): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.certPem);
  } catch (err) {
    throw new TlsMaterialError(`${files.cert}: not a PEM certificate (${(err as Error).message})`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pair.keyPem));
  } catch {
    // The key's text is never echoed: it is a secret.
    throw new TlsMaterialError(`${files.key}: not a PEM private key`);
  }
  if (!matches) throw new TlsMaterialError(`${files.key} does not belong to ${files.cert}`);
  return new Date(cert.validTo).getTime() <= Date.now();
}

/** The key material is read without following a symlink planted at its name. */
async function readIfExists(file: string): Promise<string | undefined> {
  try {
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new TlsMaterialError(`${file} is a symbolic link; refusing to follow it`);
    throw err;
  }
}

async function tightenKeyMode(file: string, logger: Logger | undefined): Promise<void> {
  const st = await stat(file);
  if ((st.mode & 0o077) !== 0) {
    await chmod(file, 0o600);
    logger?.warn({ file }, "private key file was readable by others; mode set to 0600");
  }
}
