// Read-only things the start-up check looks at: VM sizes of a location, images (managed, gallery,
// community gallery), subnets and network security groups.
import { armError, json, notFound, type Ctx, type Reply } from "./http.ts";
import type { EmulatorState } from "./state.ts";
import { imageExists } from "./vm-validate.ts";

export function listVmSizes(ctx: Ctx, state: EmulatorState): Reply {
  if (ctx.params.loc.toLowerCase() !== state.options.location.toLowerCase()) {
    return armError(
      404,
      "NoRegisteredProviderFound",
      `No registered resource provider found for location '${ctx.params.loc}'.`,
    );
  }
  const value = state.options.vmSizes.map((s) => ({
    name: s.name,
    numberOfCores: s.numberOfCores,
    osDiskSizeInMB: 1047552,
    resourceDiskSizeInMB: 0,
    memoryInMB: s.memoryInMB,
    maxDataDiskCount: s.maxDataDiskCount ?? 4,
  }));
  return json(200, { value });
}

/** GET of an image-like resource whose id is the request path itself. */
export function getImage(ctx: Ctx, state: EmulatorState, type: string): Reply {
  const id = ctx.url.pathname;
  if (!imageExists(state, id)) return notFound(type, id.split("/").pop() ?? "", ctx.params.rg ?? "-");
  return json(200, {
    id,
    name: id.split("/").pop(),
    type,
    location: state.options.location,
    properties: { provisioningState: "Succeeded" },
  });
}

/** Community gallery ids are `/CommunityGalleries/{g}/Images/{i}[/Versions/{v}]`, not the request path. */
export function getCommunityImage(ctx: Ctx, state: EmulatorState): Reply {
  const { g, i, v } = ctx.params;
  const uniqueId = `/CommunityGalleries/${g}/Images/${i}${v ? `/Versions/${v}` : ""}`;
  if (!imageExists(state, uniqueId)) {
    return armError(
      404,
      "GalleryImageNotFound",
      `The gallery image ${uniqueId} is not available in ${state.options.location} region.`,
    );
  }
  return json(200, {
    name: v ?? i,
    location: state.options.location,
    type: v
      ? "Microsoft.Compute/communityGalleries/images/versions"
      : "Microsoft.Compute/communityGalleries/images",
    identifier: { uniqueId },
    properties: {},
  });
}

export function getSubnet(ctx: Ctx, state: EmulatorState): Reply {
  const subnet = state.subnet(ctx.url.pathname);
  if (!subnet) return notFound("Microsoft.Network/virtualNetworks/subnets", ctx.params.name, ctx.params.rg);
  return json(200, {
    id: subnet.id,
    name: ctx.params.name,
    type: "Microsoft.Network/virtualNetworks/subnets",
    properties: { provisioningState: "Succeeded", addressPrefix: subnet.addressPrefix },
  });
}

export function getNsg(ctx: Ctx, state: EmulatorState): Reply {
  const id = state.options.nsgs.find((n) => n.toLowerCase() === ctx.url.pathname.toLowerCase());
  if (!id) return notFound("Microsoft.Network/networkSecurityGroups", ctx.params.name, ctx.params.rg);
  return json(200, {
    id,
    name: ctx.params.name,
    type: "Microsoft.Network/networkSecurityGroups",
    location: state.options.location,
    properties: { provisioningState: "Succeeded", securityRules: [] },
  });
}
