// AWS provider settings: upstream's flags and env names (docs/upstream-compat.md §7, CAA
// src/cloud-providers/aws/manager.go) plus endpoint, IMDS and retry settings of our own.
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
import { EC2_DEFAULT_RATE_LIMIT } from "./api-families.ts";

export const awsOptions = {
  accessKeyId: str("aws-access-key-id", "AWS_ACCESS_KEY_ID", "", "Access Key ID", true),
  secretKey: str("aws-secret-key", "AWS_SECRET_ACCESS_KEY", "", "Secret Key", true),
  sessionToken: str("aws-session-token", "AWS_SESSION_TOKEN", "", "Session Token", true),
  region: str("aws-region", "AWS_REGION", "", "Region (read from IMDS placement/region if empty)"),
  profile: str("aws-profile", undefined, "", "AWS Login Profile"),
  instanceType: str("instance-type", "PODVM_INSTANCE_TYPE", "m6a.large", "Pod VM instance type"),
  instanceTypes: list(
    "instance-types",
    "PODVM_INSTANCE_TYPES",
    "Instance types to be used for the Pod VMs, comma separated",
  ),
  imageId: str("imageid", "PODVM_AMI_ID", "", "Pod VM ami id"),
  keyName: str("keyname", "SSH_KP_NAME", "", "SSH Keypair name to be used with the Pod VM"),
  subnetId: str("subnetid", "AWS_SUBNET_ID", "", "Subnet ID to be used for the Pod VMs"),
  securityGroupIds: list(
    "securitygroupids",
    "AWS_SG_IDS",
    "Security Group Ids to be used for the Pod VM, comma separated",
  ),
  usePublicIp: bool(
    "use-public-ip",
    "USE_PUBLIC_IP",
    false,
    "Use Public IP for connecting to the kata-agent inside the Pod VM",
  ),
  rootVolumeSize: int(
    "root-volume-size",
    "ROOT_VOLUME_SIZE",
    30,
    "Root volume size (in GiB) for the Pod VMs",
  ),
  disableCvm: bool("disable-cvm", "DISABLECVM", false, "Use non-CVMs for peer pods"),
  useLaunchTemplate: bool(
    "use-lt",
    "USE_PODVM_LAUNCHTEMPLATE",
    false,
    "Use EC2 Launch Template for the Pod VMs",
  ),
  launchTemplateName: str("aws-lt-name", "PODVM_LAUNCHTEMPLATE_NAME", "kata", "AWS Launch Template Name"),
  // Ours: upstream sends no MetadataOptions (CAA src/cloud-providers/aws/provider.go CreateInstance).
  requireImdsv2: bool(
    "aws-require-imdsv2",
    "AWS_REQUIRE_IMDSV2",
    true,
    "Launch pod VMs with IMDSv2 only (HttpTokens=required); false sends no metadata options, as upstream, for pod-VM images before upstream v0.21 that read user-data with IMDSv1",
  ),
  tags: keyValues(
    "tags",
    "TAGS",
    "Custom tags (key=value pairs) to be used for the Pod VMs, comma separated",
  ),
  endpoint: str("aws-endpoint", "AWS_ENDPOINT", "", "EC2 endpoint URL override (tests, moto)"),
  endpointUrlEc2: str(
    "aws-endpoint-url-ec2",
    "AWS_ENDPOINT_URL_EC2",
    "",
    "SDK-standard EC2 endpoint override",
  ),
  endpointUrl: str(
    "aws-endpoint-url",
    "AWS_ENDPOINT_URL",
    "",
    "SDK-standard endpoint override for all services",
  ),
  imdsEndpoint: str(
    "aws-imds-endpoint",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "http://169.254.169.254",
    "Instance metadata service base URL (used only for settings left empty)",
  ),
  imdsDisabled: bool("aws-imds-disabled", "AWS_EC2_METADATA_DISABLED", false, "Never query IMDS"),
  leanCalls: bool(
    "aws-lean-ec2-calls",
    "AWS_LEAN_EC2_CALLS",
    true,
    "Send RunInstances and TerminateInstances with the provider's own EC2 Query client (providers/aws/query) instead of the AWS SDK's; false sends every call through the SDK",
  ),
  apiTimeoutMs: duration("aws-api-timeout", "AWS_API_TIMEOUT", 30_000, "Timeout of one EC2 API request"),
  retryBudgetMs: duration(
    "aws-api-retry-budget",
    "AWS_API_RETRY_BUDGET",
    60_000,
    "Total time one EC2 call may spend retrying throttles, 5xx and dropped connections",
  ),
  retryBaseMs: duration(
    "aws-api-retry-base-delay",
    "AWS_API_RETRY_BASE_DELAY",
    250,
    "First backoff ceiling (exponential, full jitter)",
  ),
  retryMaxDelayMs: duration(
    "aws-api-retry-max-delay",
    "AWS_API_RETRY_MAX_DELAY",
    10_000,
    "Largest backoff ceiling",
  ),
  retryMaxAttempts: int(
    "aws-api-max-attempts",
    "AWS_API_MAX_ATTEMPTS",
    10,
    "Attempts per EC2 call, first included",
  ),
  rateLimit: str(
    "aws-api-rate-limit",
    "AWS_API_RATE_LIMIT",
    EC2_DEFAULT_RATE_LIMIT,
    "Client-side EC2 token buckets, <family>=<capacity>:<refill per second> (EC2's published request-rate buckets); off to disable",
  ),
  ...cloudApiOptions,
};

export type AwsConfig = Resolved<typeof awsOptions>;

/** Env names this provider reads, in declaration order. */
export const awsEnvNames: readonly string[] = envNamesOf(awsOptions);

export function resolveAwsConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, string>> = {},
): AwsConfig {
  return resolve(awsOptions, { env, flags });
}

/** AWS_ENDPOINT, else the SDK's own AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL; "" = the regional endpoint. */
export function endpointOf(cfg: AwsConfig): string {
  return cfg.endpoint || cfg.endpointUrlEc2 || cfg.endpointUrl;
}
