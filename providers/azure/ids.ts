// ARM resource ids and the names upstream gives a VM's parts (CAA azure/provider.go:
// "<vm>-disk" for the OS disk, "<vm>-net" for the NIC configuration and its public IP configuration).
export interface VmRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const VM_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i;

export function parseVmId(id: string): VmRef | undefined {
  const m = VM_ID.exec(id);
  return m ? { subscriptionId: m[1], resourceGroup: m[2], name: m[3] } : undefined;
}

export function vmId(ref: VmRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${ref.name}`;
}

/** The last path segment of an ARM id: the resource's name. */
export function nameOf(id: string): string {
  return id.slice(id.lastIndexOf("/") + 1);
}

/** The resource group named in an ARM id, if any. */
export function resourceGroupOf(id: string): string | undefined {
  return /\/resourceGroups\/([^/]+)/i.exec(id)?.[1];
}

export function diskName(vm: string): string {
  return `${vm}-disk`;
}

export function nicName(vm: string): string {
  return `${vm}-net`;
}

/** Upstream names the public IP configuration like the NIC configuration. */
export function publicIpName(vm: string): string {
  return `${vm}-net`;
}
