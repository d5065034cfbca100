// Credentials as upstream (CAA src/cloud-providers/azure/client.go): a client secret when one is
// set, else workload identity. DefaultAzureCredential is not used (docs/upstream-compat.md §8).
import { ClientSecretCredential, WorkloadIdentityCredential, type TokenCredential } from "@azure/identity";
import type { AzureConfig } from "./options.ts";
import { azureOptions } from "./options.ts";

export function makeCredential(cfg: AzureConfig): TokenCredential {
  // A login endpoint other than the public one (sovereign cloud, private cloud, tests) must not
  // trigger MSAL's instance discovery against login.microsoftonline.com.
  const common = {
    authorityHost: cfg.authorityHost,
    disableInstanceDiscovery: cfg.authorityHost !== azureOptions.authorityHost.default,
  };
  if (cfg.clientSecret !== "") {
    return new ClientSecretCredential(cfg.tenantId, cfg.clientId, cfg.clientSecret, common);
  }
  return new WorkloadIdentityCredential({
    ...common,
    tenantId: cfg.tenantId,
    clientId: cfg.clientId,
    tokenFilePath: cfg.federatedTokenFile,
  });
}
