// Standalone NIC and public IP creates (Microsoft.Network). As recorded, a NIC PUT answers 201 with
// Azure-AsyncOperation and a body already Succeeded (NetworkInterfaceCreate.json).
import { randomUUID } from "node:crypto";
import type { ArmJson, NicPutBody, PublicIpPutBody } from "./arm-types.ts";
import { armError, json, type Ctx, type Reply } from "./http.ts";
import { acceptedCreate } from "./operations.ts";
import { EmulatorState } from "./state.ts";
import { publicIp } from "./vms.ts";

function networkPath(state: EmulatorState, rg: string): string {
  return `/subscriptions/${state.options.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network`;
}

function doneOperation(state: EmulatorState, resourceId: string) {
  return state.startOperation("Microsoft.Network", "create", 0, () => undefined, resourceId);
}

export function putNic(ctx: Ctx, state: EmulatorState): Reply {
  const { rg, name } = ctx.params;
  const body = (ctx.body ?? {}) as NicPutBody;
  const key = EmulatorState.key(rg, name);
  const existed = state.nics.has(key);
  const id = `${networkPath(state, rg)}/networkInterfaces/${name}`;
  const ipConfigurations = [];
  for (const [j, ipc] of (body.properties?.ipConfigurations ?? []).entries()) {
    const subnetId = ipc.properties?.subnet?.id;
    if (!state.subnet(subnetId)) {
      return armError(
        400,
        "InvalidResourceReference",
        `Resource ${subnetId ?? "(no subnet)"} referenced by resource ${id} was not found.`,
      );
    }
    const ipcName = ipc.name ?? `ipconfig${j + 1}`;
    ipConfigurations.push({
      name: ipcName,
      id: `${id}/ipConfigurations/${ipcName}`,
      type: "Microsoft.Network/networkInterfaces/ipConfigurations",
      properties: {
        provisioningState: "Succeeded",
        privateIPAddress: state.allocPrivateIp(subnetId ?? ""),
        privateIPAllocationMethod: "Dynamic",
        privateIPAddressVersion: "IPv4",
        subnet: { id: subnetId },
        publicIPAddress: ipc.properties?.publicIPAddress,
        primary: j === 0,
      },
    });
  }
  const nic: ArmJson = {
    id,
    name,
    type: "Microsoft.Network/networkInterfaces",
    location: state.options.location,
    tags: body.tags,
    etag: `W/"${randomUUID()}"`,
    properties: {
      provisioningState: "Succeeded",
      resourceGuid: randomUUID(),
      ipConfigurations,
      networkSecurityGroup: body.properties?.networkSecurityGroup,
      nicType: "Standard",
      enableAcceleratedNetworking: false,
      enableIPForwarding: false,
    },
  };
  state.nics.set(key, nic);
  return acceptedCreate(ctx, state, doneOperation(state, id), existed ? 200 : 201, nic);
}

export function putPublicIp(ctx: Ctx, state: EmulatorState): Reply {
  const { rg, name } = ctx.params;
  const body = (ctx.body ?? {}) as PublicIpPutBody;
  const key = EmulatorState.key(rg, name);
  const existing = state.publicIps.get(key);
  if (existing) {
    existing.tags = body.tags;
    return json(200, existing);
  }
  const id = `${networkPath(state, rg)}/publicIPAddresses/${name}`;
  const pip = { ...publicIp(state, id, name), tags: body.tags };
  state.publicIps.set(key, pip);
  return acceptedCreate(ctx, state, doneOperation(state, id), 201, pip);
}
