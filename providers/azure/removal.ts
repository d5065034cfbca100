// Removing a VM and everything its create made. The VM delete cascades to the NIC, OS disk and
// public IP (deleteOption Delete), but a cascade can fail and leave them behind (CAA#1204 review:
// "will still leak nics"), so afterwards each part is looked up and deleted if it is still there.
// The parts are the NICs, the OS disk and public IPs only: a data disk (a pod's cloud volume,
// data-disks.ts) is the user's and is detached by the VM delete, never deleted here.
import type { VirtualMachine } from "@azure/arm-compute";
import type { NetworkInterface } from "@azure/arm-network";
import { describeFailure } from "./azure-errors.ts";
import { callOptions, lroOptions, type AzureContext } from "./context.ts";
import { diskName, nameOf, nicName, publicIpName, resourceGroupOf } from "./ids.ts";
import { nicIdsOf } from "./instance.ts";

/** Resource names of a VM's parts, by kind. */
export interface VmParts {
  nics: string[];
  disks: string[];
  publicIps: string[];
}

function is404(err: unknown): boolean {
  return describeFailure(err).status === 404;
}

/** GET that answers undefined on 404. */
export async function getOrUndefined<T>(get: () => Promise<T>): Promise<T | undefined> {
  try {
    return await get();
  } catch (err) {
    if (is404(err)) return undefined;
    throw err;
  }
}

export function conventionalParts(name: string): VmParts {
  return { nics: [nicName(name)], disks: [diskName(name)], publicIps: [publicIpName(name)] };
}

function publicIpNamesOf(nic: NetworkInterface): string[] {
  return (nic.ipConfigurations ?? []).flatMap((c) =>
    c.publicIPAddress?.id ? [nameOf(c.publicIPAddress.id)] : [],
  );
}

/** The parts of a VM whose NICs were just read. */
export function partsFrom(vm: VirtualMachine, nics: readonly NetworkInterface[]): VmParts {
  const osDisk = vm.storageProfile?.osDisk;
  const disk = osDisk?.managedDisk?.id ? nameOf(osDisk.managedDisk.id) : osDisk?.name;
  return {
    nics: nicIdsOf(vm).map(nameOf),
    disks: disk ? [disk] : [],
    publicIps: nics.flatMap(publicIpNamesOf),
  };
}

/** The parts a VM names: its NICs and OS disk, and the public IPs on those NICs when it has any. */
export async function partsOf(
  ctx: AzureContext,
  rg: string,
  vm: VirtualMachine,
  signal?: AbortSignal,
): Promise<VmParts> {
  const nics = nicIdsOf(vm).map(nameOf);
  const osDisk = vm.storageProfile?.osDisk;
  const disk = osDisk?.managedDisk?.id ? nameOf(osDisk.managedDisk.id) : osDisk?.name;
  const hasPublicIp = (vm.networkProfile?.networkInterfaceConfigurations ?? []).some((c) =>
    (c.ipConfigurations ?? []).some((i) => i.publicIPAddressConfiguration),
  );
  const publicIps: string[] = [];
  if (hasPublicIp) {
    for (const id of nicIdsOf(vm)) {
      const nic = await ctx.reads.get("nic", resourceGroupOf(id) ?? rg, nameOf(id), false, signal);
      if (nic) publicIps.push(...publicIpNamesOf(nic));
    }
  }
  return { nics, disks: disk ? [disk] : [], publicIps };
}

export async function deleteVmAndWait(
  ctx: AzureContext,
  rg: string,
  name: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await ctx.compute.virtualMachines.delete(rg, name, lroOptions(ctx, signal));
  } catch (err) {
    if (!is404(err)) throw err;
  }
}

async function deleteIfPresent(get: () => Promise<unknown>, del: () => Promise<unknown>): Promise<boolean> {
  if ((await getOrUndefined(get)) === undefined) return false;
  try {
    await del();
  } catch (err) {
    if (!is404(err)) throw err;
  }
  return true;
}

/** Look up each part and delete what is still there (NICs first: a public IP in use cannot go). Returns what was deleted. */
export async function deleteLeftovers(
  ctx: AzureContext,
  rg: string,
  parts: VmParts,
  signal?: AbortSignal,
): Promise<string[]> {
  const net = ctx.network;
  const left: string[] = [];
  const publicIps = new Set(parts.publicIps);
  await Promise.all(
    parts.nics.map(async (n) => {
      const nic = await ctx.reads.get("nic", rg, n, false, signal);
      if (!nic) return;
      for (const p of publicIpNamesOf(nic)) publicIps.add(p);
      await net.networkInterfaces.delete(rg, n, lroOptions(ctx, signal)).catch((err: unknown) => {
        if (!is404(err)) throw err;
      });
      left.push(`networkInterfaces/${n}`);
    }),
  );
  const rest = [
    ...[...publicIps].map((p) => ({
      label: `publicIPAddresses/${p}`,
      get: () => ctx.reads.get("publicIp", rg, p, false, signal),
      del: () => net.publicIPAddresses.delete(rg, p, lroOptions(ctx, signal)),
    })),
    ...parts.disks.map((d) => ({
      label: `disks/${d}`,
      get: () => ctx.reads.get("disk", rg, d, false, signal),
      del: () => ctx.compute.disks.delete(rg, d, lroOptions(ctx, signal)),
    })),
  ];
  await Promise.all(
    rest.map(async (r) => {
      if (await deleteIfPresent(r.get, r.del)) left.push(r.label);
    }),
  );
  return left.sort();
}

/**
 * Delete the VM (if any) and wait, then make sure its parts are gone. Returns leftovers that had
 * to be deleted. With `known` parts (remembered from the create) the VM is not read first.
 */
export async function removeVm(
  ctx: AzureContext,
  rg: string,
  name: string,
  signal?: AbortSignal,
  known?: VmParts,
): Promise<string[]> {
  if (known) {
    await deleteVmAndWait(ctx, rg, name, signal);
    return deleteLeftovers(ctx, rg, known, signal);
  }
  const vm = await getOrUndefined(() => ctx.compute.virtualMachines.get(rg, name, callOptions(signal)));
  const parts = vm ? await partsOf(ctx, rg, vm, signal) : conventionalParts(name);
  if (vm) await deleteVmAndWait(ctx, rg, name, signal);
  return deleteLeftovers(ctx, rg, parts, signal);
}
