// The suite creates and deletes instances, so it refuses a real cloud account unless told
// `--yes-i-own-this-account`. "Real" means no emulator endpoint is configured: AWS without
// AWS_ENDPOINT / AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL (moto), Azure without AZURE_ARM_ENDPOINT
// (the ARM emulator). An override that names the cloud's own domain is still real; `local` never is.

const ENDPOINT_ENV: Record<string, readonly string[]> = {
  aws: ["AWS_ENDPOINT", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL"],
  azure: ["AZURE_ARM_ENDPOINT"],
};

const CLOUD_DOMAINS = [/(^|\.)amazonaws\.com$/i, /(^|\.)amazonaws\.com\.cn$/i, /(^|\.)azure\.(com|cn|us)$/i];

export function isRealCloud(
  providerName: string,
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  if (providerName === "local") return false;
  const names = ENDPOINT_ENV[providerName];
  // An external provider we know nothing about: assume it reaches a real account.
  if (names === undefined) return true;
  const endpoints = names.map((n) => env[n] ?? "").filter((v) => v !== "");
  return endpoints.length === 0 || endpoints.some(isCloudHost);
}

function isCloudHost(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname;
  } catch {
    return false;
  }
  return CLOUD_DOMAINS.some((re) => re.test(host));
}

export function refusalMessage(providerName: string): string {
  const names = ENDPOINT_ENV[providerName];
  const why =
    names === undefined
      ? `provider "${providerName}" is not known to use an emulator`
      : `none of ${names.join(", ")} points at an emulator`;
  return (
    `refusing to run the conformance suite against a real ${providerName} account (${why}): ` +
    "it creates and deletes instances there, which costs money. " +
    "Pass --yes-i-own-this-account if this account is yours to use."
  );
}

export class ConformanceRefusedError extends Error {
  override name = "ConformanceRefusedError";
}
