// The ARM paths the emulator answers, each with an operation name used for request counting.
import { putDisk } from "./disks.ts";
import { getCommunityImage, getImage, getNsg, getSubnet, listVmSizes } from "./catalog.ts";
import type { Faults } from "./faults.ts";
import type { Ctx, Reply } from "./http.ts";
import { openidConfiguration, token } from "./login.ts";
import { putNic, putPublicIp } from "./network.ts";
import { getOperation, getOperationResult } from "./operations.ts";
import { deleteResource, getResource, listResources } from "./resources.ts";
import type { EmulatorState } from "./state.ts";
import { deleteVm, getVm, listVms, putVm } from "./vms.ts";

export interface Route {
  method: string;
  re: RegExp;
  op: string;
  /** Login routes skip auth, throttling and recording of bodies. */
  login?: boolean;
  handle: (ctx: Ctx) => Reply;
}

const SUB = "/subscriptions/(?<sub>[^/]+)";
const RG = `${SUB}/resourceGroups/(?<rg>[^/]+)`;
const COMPUTE = `${RG}/providers/Microsoft\\.Compute`;
const NETWORK = `${RG}/providers/Microsoft\\.Network`;
const LOC_COMPUTE = `${SUB}/providers/Microsoft\\.Compute/locations/(?<loc>[^/]+)`;
const LOC_NETWORK = `${SUB}/providers/Microsoft\\.Network/locations/(?<loc>[^/]+)`;
const NAME = "(?<name>[^/]+)";

export function buildRoutes(state: EmulatorState, faults: Faults): Route[] {
  const resourceOf = (id: string): unknown => {
    const name = id.split("/").pop() ?? "";
    const rg = /resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? "";
    const key = `${rg}/${name}`.toLowerCase();
    return (
      state.vms.get(key)?.resource ?? state.nics.get(key) ?? state.publicIps.get(key) ?? state.disks.get(key)
    );
  };
  const r = (
    method: string,
    path: string,
    op: string,
    handle: (ctx: Ctx) => Reply,
    login = false,
  ): Route => ({
    method,
    re: new RegExp(`^${path}$`, "i"),
    op,
    handle,
    login,
  });
  return [
    r(
      "GET",
      "/(?<tenant>[^/]+)/v2\\.0/\\.well-known/openid-configuration",
      "login.openid",
      openidConfiguration,
      true,
    ),
    r("POST", "/(?<tenant>[^/]+)/oauth2/v2\\.0/token", "login.token", (c) => token(c, state), true),
    r("PUT", `${COMPUTE}/virtualMachines/${NAME}`, "vm.put", (c) => putVm(c, state, faults)),
    r("GET", `${COMPUTE}/virtualMachines/${NAME}`, "vm.get", (c) => getVm(c, state)),
    r("DELETE", `${COMPUTE}/virtualMachines/${NAME}`, "vm.delete", (c) => deleteVm(c, state, faults)),
    r("GET", `${COMPUTE}/virtualMachines`, "vm.list", (c) => listVms(c, state)),
    r("GET", `${LOC_COMPUTE}/vmSizes`, "vmSizes.list", (c) => listVmSizes(c, state)),
    r("GET", `${LOC_COMPUTE}/operations/(?<op>[^/]+)`, "operation.get", (c) =>
      getOperation(c, state, resourceOf),
    ),
    r("PUT", `${COMPUTE}/disks/${NAME}`, "disk.put", (c) => putDisk(c, state)),
    r("GET", `${COMPUTE}/disks/${NAME}`, "disk.get", (c) => getResource("disk", c, state)),
    r("DELETE", `${COMPUTE}/disks/${NAME}`, "disk.delete", (c) => deleteResource("disk", c, state)),
    r("GET", `${COMPUTE}/disks`, "disk.list", (c) => listResources("disk", c, state)),
    r("GET", `${COMPUTE}/images/${NAME}`, "image.get", (c) => getImage(c, state, "Microsoft.Compute/images")),
    r("GET", `${COMPUTE}/galleries/[^/]+/images/[^/]+(?:/versions/[^/]+)?`, "galleryImage.get", (c) =>
      getImage(c, state, "Microsoft.Compute/galleries/images"),
    ),
    r(
      "GET",
      `${LOC_COMPUTE}/communityGalleries/(?<g>[^/]+)/images/(?<i>[^/]+)(?:/versions/(?<v>[^/]+))?`,
      "communityImage.get",
      (c) => getCommunityImage(c, state),
    ),
    r("PUT", `${NETWORK}/networkInterfaces/${NAME}`, "nic.put", (c) => putNic(c, state)),
    r("GET", `${NETWORK}/networkInterfaces/${NAME}`, "nic.get", (c) => getResource("nic", c, state)),
    r("DELETE", `${NETWORK}/networkInterfaces/${NAME}`, "nic.delete", (c) => deleteResource("nic", c, state)),
    r("GET", `${NETWORK}/networkInterfaces`, "nic.list", (c) => listResources("nic", c, state)),
    r("PUT", `${NETWORK}/publicIPAddresses/${NAME}`, "publicIp.put", (c) => putPublicIp(c, state)),
    r("GET", `${NETWORK}/publicIPAddresses/${NAME}`, "publicIp.get", (c) =>
      getResource("publicIp", c, state),
    ),
    r("DELETE", `${NETWORK}/publicIPAddresses/${NAME}`, "publicIp.delete", (c) =>
      deleteResource("publicIp", c, state),
    ),
    r("GET", `${NETWORK}/publicIPAddresses`, "publicIp.list", (c) => listResources("publicIp", c, state)),
    r("GET", `${NETWORK}/virtualNetworks/[^/]+/subnets/${NAME}`, "subnet.get", (c) => getSubnet(c, state)),
    r("GET", `${NETWORK}/networkSecurityGroups/${NAME}`, "nsg.get", (c) => getNsg(c, state)),
    r("GET", `${LOC_NETWORK}/operations/(?<op>[^/]+)`, "operation.get", (c) =>
      getOperation(c, state, resourceOf),
    ),
    r("GET", `${LOC_NETWORK}/operationResults/(?<op>[^/]+)`, "operationResult.get", (c) =>
      getOperationResult(c, state, resourceOf),
    ),
  ];
}
