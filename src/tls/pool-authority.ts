// The warm pool's TLS material (src/userdata/pool.ts), kept beside the agent CA so a restarted
// daemon can still bind the VMs it pooled before. One pool CA issues both ends: each pooled VM's
// bootstrap server certificate (serverAuth only, so a VM cannot use it to bind another VM) and the
// daemon's bind client certificate (clientAuth). It is separate from the agent CA: a bootstrap
// certificate never lets anyone reach a pod's agent.
import { X509Certificate } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../log/logger.ts";
import { TlsMaterialError, loadOrCreatePair } from "./authority.ts";
import { generateCertificate, loadSigner, type CertAndKey, type Signer } from "./certgen.ts";

export const POOL_CA_ORG = "peerpod-pool";

export class PoolAuthority {
  readonly caCertPem: string;
  readonly clientCertPem: string;
  readonly #clientKeyPem: string;
  readonly #signer: Signer;

  private constructor(ca: CertAndKey, signer: Signer, client: CertAndKey) {
    this.caCertPem = ca.certPem;
    this.#signer = signer;
    this.clientCertPem = client.certPem;
    this.#clientKeyPem = client.keyPem;
  }

  /** The bind client key. Never log it. */
  get clientKeyPem(): string {
    return this.#clientKeyPem;
  }

  static async loadOrCreate(dir: string, logger?: Logger): Promise<PoolAuthority> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const days = 3650;
    const ca = await loadOrCreatePair(
      { what: "pool CA", cert: path.join(dir, "pool-ca.crt"), key: path.join(dir, "pool-ca.key") },
      () =>
        generateCertificate({
          org: POOL_CA_ORG,
          isCa: true,
          validDays: days,
          // OpenSSL checks a CA's extended key usage against its leaves' purpose: it issues both.
          extendedKeyUsages: ["serverAuth", "clientAuth"],
        }),
      logger,
    );
    if (!new X509Certificate(ca.certPem).ca)
      throw new TlsMaterialError(`${path.join(dir, "pool-ca.crt")} is not a CA certificate`);
    const signer = await loadSigner(ca);
    const client = await loadOrCreatePair(
      {
        what: "pool client certificate",
        cert: path.join(dir, "client.crt"),
        key: path.join(dir, "client.key"),
      },
      () => generateCertificate({ org: POOL_CA_ORG, isClient: true, validDays: days, issuer: signer }),
      logger,
    );
    return new PoolAuthority(ca, signer, client);
  }

  /** A pooled VM's bootstrap certificate: CN and SAN DNS = the VM's name. */
  async issueBootstrap(vmName: string): Promise<CertAndKey> {
    return generateCertificate({ org: POOL_CA_ORG, name: vmName, validDays: 730, issuer: this.#signer });
  }
}
