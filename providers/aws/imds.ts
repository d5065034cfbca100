// Fallbacks from the instance metadata service for settings left empty, as upstream does
// (CAA src/cloud-providers/aws/imds.go): region, subnet, security groups and key pair name of
// the worker node. Queried only for a value that is missing; tests always set them.
import type { ProviderLogger } from "../types.ts";
import type { AwsConfig } from "./options.ts";

const TIMEOUT_MS = 2000;

export class ImdsClient {
  readonly #base: string;
  #token: Promise<string | undefined> | undefined;

  constructor(baseUrl: string) {
    this.#base = baseUrl.replace(/\/+$/, "");
  }

  /** GET latest/meta-data/<path> with an IMDSv2 session token when the service issues one. */
  async get(path: string): Promise<string> {
    const token = await (this.#token ??= this.#fetchToken());
    const res = await fetch(`${this.#base}/latest/meta-data/${path}`, {
      headers: token ? { "x-aws-ec2-metadata-token": token } : {},
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`IMDS ${path}: HTTP ${res.status}`);
    return (await res.text()).trim();
  }

  async #fetchToken(): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.#base}/latest/api/token`, {
        method: "PUT",
        headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      return res.ok ? await res.text() : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Missing settings the metadata service can fill, in upstream's order. */
export function needsImds(cfg: AwsConfig): boolean {
  return !cfg.region || !cfg.subnetId || !cfg.keyName || cfg.securityGroupIds.length === 0;
}

/**
 * Fill empty region, subnet, key name and security groups from IMDS. Failures are logged and
 * leave the value empty (upstream: "some fields may still be missing"); start() reports what
 * is then still required.
 */
export async function fillFromImds(cfg: AwsConfig, logger: ProviderLogger): Promise<AwsConfig> {
  if (cfg.imdsDisabled || !needsImds(cfg)) return cfg;
  const imds = new ImdsClient(cfg.imdsEndpoint);
  const out = { ...cfg };
  const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      logger.warn({ setting: what, err: (err as Error).message }, `${what} not retrieved from IMDS`);
    }
  };
  let mac: string | undefined;
  const macOnce = async (): Promise<string> => (mac ??= await imds.get("mac"));
  if (!out.subnetId)
    await attempt("SubnetId", async () => {
      out.subnetId = await imds.get(`network/interfaces/macs/${await macOnce()}/subnet-id`);
      logger.info({ subnetId: out.subnetId }, "SubnetId retrieved from IMDS");
    });
  if (!out.region)
    await attempt("Region", async () => {
      out.region = await imds.get("placement/region");
      logger.info({ region: out.region }, "Region retrieved from IMDS");
    });
  if (!out.keyName)
    await attempt("KeyName", async () => {
      const m = /^0=(\S+)/.exec(await imds.get("public-keys"));
      if (!m) throw new Error("no key 0 in public-keys");
      out.keyName = m[1];
      logger.info({ keyName: out.keyName }, "KeyName retrieved from IMDS");
    });
  if (out.securityGroupIds.length === 0)
    await attempt("SecurityGroupIds", async () => {
      const text = await imds.get(`network/interfaces/macs/${await macOnce()}/security-group-ids`);
      out.securityGroupIds = text.split(/\s+/).filter((s) => s !== "");
      logger.info({ securityGroupIds: out.securityGroupIds }, "SecurityGroupIds retrieved from IMDS");
    });
  return out;
}
