// GET / list / DELETE shared by disks, NICs and public IPs. A resource still in use cannot be
// deleted (Azure: 409 for an attached disk, 400 NicInUse, 400 PublicIPAddressCannotBeDeleted).
import type { ArmJson } from "./arm-types.ts";
import { armError, json, notFound, page, type Ctx, type Reply } from "./http.ts";
import { acceptedDelete } from "./operations.ts";
import { EmulatorState, type ResourceKind } from "./state.ts";
import { detachPublicIps } from "./vms.ts";

type Kind = Exclude<ResourceKind, "vm">;

const TYPE: Record<Kind, string> = {
  nic: "Microsoft.Network/networkInterfaces",
  publicIp: "Microsoft.Network/publicIPAddresses",
  disk: "Microsoft.Compute/disks",
};

function inUse(kind: Kind, res: ArmJson): Reply | undefined {
  const managedBy = typeof res.managedBy === "string" ? res.managedBy : undefined;
  if (kind === "disk" && managedBy) {
    return armError(409, "OperationNotAllowed", `Disk ${res.name} is attached to VM ${managedBy}.`);
  }
  const vm = (res.properties.virtualMachine as { id?: string } | undefined)?.id;
  if (kind === "nic" && vm) {
    return armError(
      400,
      "NicInUse",
      `Network Interface ${res.id} is used by existing resource ${vm}. In order to delete the network interface, it must be dissociated from the resource.`,
    );
  }
  const ipc = (res.properties.ipConfiguration as { id?: string } | undefined)?.id;
  if (kind === "publicIp" && ipc) {
    return armError(
      400,
      "PublicIPAddressCannotBeDeleted",
      `Public IP address ${res.id} can not be deleted since it is still allocated to resource ${ipc}.`,
    );
  }
  return undefined;
}

export function getResource(kind: Kind, ctx: Ctx, state: EmulatorState): Reply {
  const { rg, name } = ctx.params;
  const res = state.mapOf(kind).get(EmulatorState.key(rg, name));
  return res ? json(200, res) : notFound(TYPE[kind], name, rg);
}

export function listResources(kind: Kind, ctx: Ctx, state: EmulatorState): Reply {
  const rg = ctx.params.rg.toLowerCase();
  const items = [...state.mapOf(kind).entries()].filter(([k]) => k.startsWith(`${rg}/`)).map(([, r]) => r);
  return page(ctx, items, state.options.pageSize);
}

export function deleteResource(kind: Kind, ctx: Ctx, state: EmulatorState): Reply {
  const { rg, name } = ctx.params;
  const key = EmulatorState.key(rg, name);
  const map = state.mapOf(kind);
  const res = map.get(key);
  if (!res) return { status: 204 };
  const busy = inUse(kind, res);
  if (busy) return busy;
  res.properties.provisioningState = "Deleting";
  const provider = kind === "disk" ? "Microsoft.Compute" : "Microsoft.Network";
  const op = state.startOperation(provider, "delete", state.options.networkDelayMs, () => {
    if (map.get(key) === res) map.delete(key);
    if (kind === "nic") detachPublicIps(state, res);
    return undefined;
  });
  return acceptedDelete(ctx, state, op);
}
