// Azure provider settings: upstream's flags and env names (docs/upstream-compat.md §8, CAA
// src/cloud-providers/azure/manager.go) plus endpoint and retry settings of our own.
import {
  bool,
  duration,
  int,
  keyValues,
  list,
  resolve,
  str,
  type Resolved,
  envNamesOf,
} from "../../src/config/options.ts";
import { cloudApiOptions } from "../cloudapi/options.ts";
import { InvalidConfigError } from "../errors.ts";

export const azureOptions = {
  clientId: str("clientid", "AZURE_CLIENT_ID", "", "Client Id, defaults to `AZURE_CLIENT_ID`", true),
  clientSecret: str(
    "secret",
    "AZURE_CLIENT_SECRET",
    "",
    "Client Secret, defaults to `AZURE_CLIENT_SECRET`; empty means workload identity",
    true,
  ),
  tenantId: str("tenantid", "AZURE_TENANT_ID", "", "Tenant Id, defaults to `AZURE_TENANT_ID`", true),
  subscriptionId: str("subscriptionid", "AZURE_SUBSCRIPTION_ID", "", "Subscription ID"),
  region: str("region", "AZURE_REGION", "", "Region"),
  resourceGroup: str("resourcegroup", "AZURE_RESOURCE_GROUP", "", "Resource Group"),
  zone: str("zone", undefined, "", "Zone (accepted as upstream; not used in the VM parameters)"),
  instanceSize: str("instance-size", "AZURE_INSTANCE_SIZE", "Standard_DC2as_v5", "Instance size"),
  instanceSizes: list(
    "instance-sizes",
    "AZURE_INSTANCE_SIZES",
    "Instance sizes to be used for the Pod VMs, comma separated",
  ),
  subnetId: str("subnetid", "AZURE_SUBNET_ID", "", "Network Subnet Id (full ARM id)"),
  securityGroupId: str("securitygroupid", "AZURE_NSG_ID", "", "Security Group Id (full ARM id)"),
  imageId: str("imageid", "AZURE_IMAGE_ID", "", "Image Id (ARM id, or /CommunityGalleries/…)"),
  sshKeyPath: str(
    "ssh-key-path",
    "AZURE_SSH_KEY_PATH",
    "",
    "Path to SSH public key; empty generates a key nobody holds (upstream has only the flag; the env name is ours)",
  ),
  sshUserName: str("ssh-username", "SSH_USERNAME", "peerpod", "SSH User Name"),
  disableCvm: bool("disable-cvm", "DISABLECVM", false, "Use non-CVMs for peer pods"),
  enableSecureBoot: bool("enable-secure-boot", "ENABLE_SECURE_BOOT", false, "Enable secure boot for the VMs"),
  usePublicIp: bool(
    "use-public-ip",
    "USE_PUBLIC_IP",
    false,
    "Assign public IP to the PoD VM and use to connect to kata-agent",
  ),
  rootVolumeSize: int(
    "root-volume-size",
    "ROOT_VOLUME_SIZE",
    0,
    "Root volume size in GB. Default is 0, which implies the default image disk size",
  ),
  tags: keyValues(
    "tags",
    "TAGS",
    "Custom tags (key=value pairs) to be used for the Pod VMs, comma separated",
  ),
  federatedTokenFile: str(
    "azure-federated-token-file",
    "AZURE_FEDERATED_TOKEN_FILE",
    "",
    "Workload identity token file (set by the AKS workload identity webhook)",
  ),
  armEndpoint: str(
    "azure-arm-endpoint",
    "AZURE_ARM_ENDPOINT",
    "https://management.azure.com",
    "Azure Resource Manager base URL (sovereign clouds, tests)",
  ),
  authorityHost: str(
    "azure-authority-host",
    "AZURE_AUTHORITY_HOST",
    "https://login.microsoftonline.com",
    "Microsoft Entra login endpoint (sovereign clouds, tests)",
  ),
  pollIntervalMs: duration(
    "azure-poll-interval",
    "AZURE_POLL_INTERVAL",
    5_000,
    "Poll interval of long-running operations when Azure sends no Retry-After",
  ),
  retryBudgetMs: duration(
    "azure-api-retry-budget",
    "AZURE_API_RETRY_BUDGET",
    120_000,
    "Total time one ARM request may spend waiting out 429s, 5xx and dropped connections",
  ),
  rateLimit: str(
    "azure-api-rate-limit",
    "AZURE_API_RATE_LIMIT",
    "reads=250:25,writes=200:10,deletes=200:10",
    "Client-side ARM token buckets, <class>=<capacity>:<refill per second> (ARM's regional limits); off to disable",
  ),
  retryMaxAttempts: int(
    "azure-api-max-attempts",
    "AZURE_API_MAX_ATTEMPTS",
    8,
    "Attempts per ARM request, first included",
  ),
  ...cloudApiOptions,
};

export type AzureConfig = Resolved<typeof azureOptions>;

/** Env names this provider reads, in declaration order. */
export const azureEnvNames: readonly string[] = envNamesOf(azureOptions);

export function resolveAzureConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, string>> = {},
): AzureConfig {
  return resolve(azureOptions, { env, flags });
}

const REQUIRED: Array<keyof AzureConfig> = [
  "subscriptionId",
  "region",
  "resourceGroup",
  "subnetId",
  "imageId",
];

/** Settings without which no VM can be made; named by env and flag as the user sets them. */
export function checkRequired(cfg: AzureConfig): void {
  const missing = REQUIRED.filter((k) => cfg[k] === "").map((k) => {
    const o = azureOptions[k];
    return `${o.env} (-${o.flag})`;
  });
  if (missing.length > 0) throw new InvalidConfigError(`Azure provider: ${missing.join(", ")} must be set`);
  if (cfg.clientSecret === "" && cfg.federatedTokenFile === "") {
    throw new InvalidConfigError(
      'Azure provider: AZURE_CLIENT_SECRET is empty, so workload identity is used, but AZURE_FEDERATED_TOKEN_FILE is not set (label the pod azure.workload.identity/use: "true")',
    );
  }
  if (cfg.clientId === "" || cfg.tenantId === "") {
    throw new InvalidConfigError(
      "Azure provider: AZURE_CLIENT_ID (-clientid) and AZURE_TENANT_ID (-tenantid) must be set",
    );
  }
  for (const url of [cfg.armEndpoint, cfg.authorityHost]) {
    if (!/^https:\/\/[^/]+/.test(url)) {
      throw new InvalidConfigError(
        `Azure provider: ${url} is not an https URL (bearer tokens go over https only)`,
      );
    }
  }
}
