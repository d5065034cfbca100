// The environment that points the Azure provider (CLOUD_PROVIDER=azure) at an emulator: upstream's
// env names for the subscription, group, subnet, NSG and image, the test client's secret, and our
// endpoint overrides. NODE_EXTRA_CA_CERTS is included for child processes (the daemon); it has no
// effect on a process that is already running (use trustCaInProcess there).
import type { ArmEmulator } from "./index.ts";

export function azureProviderEnv(
  emu: ArmEmulator,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    AZURE_CLIENT_ID: emu.clientId,
    AZURE_CLIENT_SECRET: emu.clientSecret,
    AZURE_TENANT_ID: emu.tenantId,
    AZURE_SUBSCRIPTION_ID: emu.subscriptionId,
    AZURE_REGION: emu.location,
    AZURE_RESOURCE_GROUP: emu.resourceGroup,
    AZURE_SUBNET_ID: emu.subnetId,
    AZURE_NSG_ID: emu.nsgId,
    AZURE_IMAGE_ID: emu.imageId,
    AZURE_ARM_ENDPOINT: emu.url,
    AZURE_AUTHORITY_HOST: emu.url,
    AZURE_POLL_INTERVAL: "10ms",
    NODE_EXTRA_CA_CERTS: emu.caFile,
    ...extra,
  };
}
