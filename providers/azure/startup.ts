// Start-up: the region's VM sizes (always, for instance-type selection) and, with
// CLOUD_CONFIG_VERIFY, a check that the subscription, resource group, image, subnet, NSG and sizes
// exist — every problem found is reported at once, named by the setting to fix.
import type { VirtualMachineSize } from "@azure/arm-compute";
import { InvalidConfigError } from "../errors.ts";
import { describeFailure, toProviderError } from "./azure-errors.ts";
import { callOptions, type AzureContext } from "./context.ts";
import { missingSizes, wantedSizes } from "./sizes.ts";

export async function listSizes(ctx: AzureContext, signal?: AbortSignal): Promise<VirtualMachineSize[]> {
  const sizes: VirtualMachineSize[] = [];
  try {
    for await (const s of ctx.compute.virtualMachineSizes.list(ctx.cfg.region, callOptions(signal)))
      sizes.push(s);
  } catch (err) {
    throw toProviderError(
      `Azure provider: listing VM sizes of region ${ctx.cfg.region} in subscription ${ctx.cfg.subscriptionId} (AZURE_REGION, AZURE_SUBSCRIPTION_ID)`,
      err,
    );
  }
  return sizes;
}

const ARM_PATH = (provider: string, rest: string) =>
  new RegExp(`^/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/${provider}/${rest}$`, "i");
const MANAGED_IMAGE = ARM_PATH("Microsoft\\.Compute", "images/([^/]+)");
const GALLERY_IMAGE = ARM_PATH(
  "Microsoft\\.Compute",
  "galleries/([^/]+)/images/([^/]+)(?:/versions/([^/]+))?",
);
const COMMUNITY_IMAGE = /^\/CommunityGalleries\/([^/]+)\/Images\/([^/]+)(?:\/Versions\/([^/]+))?$/i;
const SUBNET = ARM_PATH("Microsoft\\.Network", "virtualNetworks/([^/]+)/subnets/([^/]+)");
const NSG = ARM_PATH("Microsoft\\.Network", "networkSecurityGroups/([^/]+)");

/** A GET for the configured image, by the kind of id it is (upstream: isImageIdExist). */
function imageGet(
  ctx: AzureContext,
  image: string,
  signal?: AbortSignal,
): (() => Promise<unknown>) | undefined {
  const c = ctx.compute;
  const o = callOptions(signal);
  let m = COMMUNITY_IMAGE.exec(image);
  if (m) {
    const [, g, i, v] = m;
    return v
      ? () => c.communityGalleryImageVersions.get(ctx.cfg.region, g, i, v, o)
      : () => c.communityGalleryImages.get(ctx.cfg.region, g, i, o);
  }
  m = GALLERY_IMAGE.exec(image);
  if (m) {
    const [, rg, g, i, v] = m;
    return v ? () => c.galleryImageVersions.get(rg, g, i, v, o) : () => c.galleryImages.get(rg, g, i, o);
  }
  m = MANAGED_IMAGE.exec(image);
  if (m) {
    const [, rg, name] = m;
    return () => c.images.get(rg, name, o);
  }
  return undefined;
}

async function check(label: string, get: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await get();
    return undefined;
  } catch (err) {
    const f = describeFailure(err);
    return `${label}: Azure ${f.code}${f.status ? ` (HTTP ${f.status})` : ""}: ${f.message}`;
  }
}

export async function verifyConfig(
  ctx: AzureContext,
  listed: readonly VirtualMachineSize[],
  signal?: AbortSignal,
): Promise<void> {
  const { cfg } = ctx;
  const o = callOptions(signal);
  const problems: Array<Promise<string | undefined>> = [
    check(`resource group ${cfg.resourceGroup} (AZURE_RESOURCE_GROUP)`, async () => {
      // The first page of the group's VMs: proves the group exists and that we may read it.
      const pages = ctx.compute.virtualMachines.list(cfg.resourceGroup, o).byPage();
      await pages.next();
    }),
  ];
  const image = imageGet(ctx, cfg.imageId, signal);
  problems.push(
    image
      ? check(`image ${cfg.imageId} (AZURE_IMAGE_ID)`, image)
      : Promise.resolve(
          `image ${cfg.imageId} (AZURE_IMAGE_ID): not a managed image, gallery image or /CommunityGalleries/… id`,
        ),
  );
  const subnet = SUBNET.exec(cfg.subnetId);
  problems.push(
    subnet
      ? check(`subnet ${cfg.subnetId} (AZURE_SUBNET_ID)`, () =>
          ctx.network.subnets.get(subnet[1], subnet[2], subnet[3], o),
        )
      : Promise.resolve(`subnet ${cfg.subnetId} (AZURE_SUBNET_ID): not a subnet ARM id`),
  );
  if (cfg.securityGroupId !== "") {
    const nsg = NSG.exec(cfg.securityGroupId);
    problems.push(
      nsg
        ? check(`network security group ${cfg.securityGroupId} (AZURE_NSG_ID)`, () =>
            ctx.network.networkSecurityGroups.get(nsg[1], nsg[2], o),
          )
        : Promise.resolve(`network security group ${cfg.securityGroupId} (AZURE_NSG_ID): not an NSG ARM id`),
    );
  }
  const missing = missingSizes(listed, wantedSizes(cfg.instanceSizes, cfg.instanceSize));
  if (missing.length > 0) {
    problems.push(
      Promise.resolve(
        `VM size ${missing.join(", ")} (AZURE_INSTANCE_SIZE / AZURE_INSTANCE_SIZES): not offered in region ${cfg.region}`,
      ),
    );
  }
  const found = (await Promise.all(problems)).filter((p): p is string => p !== undefined);
  if (found.length > 0) {
    throw new InvalidConfigError(
      `Azure configuration check (CLOUD_CONFIG_VERIFY) failed:\n  ${found.join("\n  ")}`,
    );
  }
}
