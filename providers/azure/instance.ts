// A VM as our Instance: id, name, tags, creation time, and its IPs read from its NICs — public
// addresses first when asked, then private ones (docs/upstream-compat.md §8, CAA azure/provider.go getIPs).
import type { VirtualMachine } from "@azure/arm-compute";
import type { NetworkInterface, PublicIPAddress } from "@azure/arm-network";
import type { Instance } from "../types.ts";
import type { AzureContext } from "./context.ts";
import { nameOf, resourceGroupOf } from "./ids.ts";

export class AddressNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AddressNotReadyError";
  }
}

function usable(addr: string | undefined): addr is string {
  return addr !== undefined && addr !== "" && addr !== "0.0.0.0";
}

export function nicIdsOf(vm: VirtualMachine): string[] {
  return (vm.networkProfile?.networkInterfaces ?? []).flatMap((r) => (r.id ? [r.id] : []));
}

/** Addresses of some NICs, in NIC order: public ones (looked up in `publicIps`) and private ones. */
export function addressesOf(
  nics: readonly NetworkInterface[],
  publicIps: ReadonlyMap<string, PublicIPAddress>,
): { public: string[]; private: string[] } {
  const ipcs = nics.flatMap((n) => n.ipConfigurations ?? []);
  return {
    public: ipcs.flatMap((c) => {
      const id = c.publicIPAddress?.id?.toLowerCase();
      const addr = id ? publicIps.get(id)?.ipAddress : undefined;
      return usable(addr) ? [addr] : [];
    }),
    private: ipcs.flatMap((c) => (usable(c.privateIPAddress) ? [c.privateIPAddress] : [])),
  };
}

export function toInstance(vm: VirtualMachine, ips: string[]): Instance {
  return {
    id: vm.id ?? "",
    name: vm.name ?? "",
    ips,
    tags: { ...vm.tags },
    ...(vm.timeCreated ? { createdAt: new Date(vm.timeCreated) } : {}),
  };
}

/** A VM's NICs and, when public IPs are used, the public IPs on them (keyed by lower-case id). */
export interface VmNetwork {
  nics: NetworkInterface[];
  publicIps: Map<string, PublicIPAddress>;
}

/** GET the VM's NICs, and their public IPs when USE_PUBLIC_IP is set. */
export async function readNetwork(
  ctx: AzureContext,
  vm: VirtualMachine,
  signal?: AbortSignal,
): Promise<VmNetwork> {
  const rg = ctx.cfg.resourceGroup;
  const read = <K extends "nic" | "publicIp">(kind: K, id: string) =>
    ctx.reads.get(kind, resourceGroupOf(id) ?? rg, nameOf(id), true, signal) as Promise<
      K extends "nic" ? NetworkInterface : PublicIPAddress
    >;
  const nics = await Promise.all(nicIdsOf(vm).map((id) => read("nic", id)));
  const publicIps = new Map<string, PublicIPAddress>();
  if (ctx.cfg.usePublicIp) {
    const ids = nics
      .flatMap((n) => n.ipConfigurations ?? [])
      .flatMap((c) => (c.publicIPAddress?.id ? [c.publicIPAddress.id] : []));
    for (const id of ids) publicIps.set(id.toLowerCase(), await read("publicIp", id));
  }
  return { nics, publicIps };
}

/** The addresses to reach the VM at: public ones first when asked (upstream getIPs), then private ones. */
export function pickAddresses(vmName: string, net: VmNetwork, usePublicIp: boolean): string[] {
  const found = addressesOf(net.nics, net.publicIps);
  if (found.private.length === 0 || (usePublicIp && found.public.length === 0)) {
    throw new AddressNotReadyError(`VM ${vmName} has no ${usePublicIp ? "public " : ""}address yet`);
  }
  return usePublicIp ? [...found.public, ...found.private] : found.private;
}

export async function readAddresses(
  ctx: AzureContext,
  vm: VirtualMachine,
  signal?: AbortSignal,
): Promise<string[]> {
  return pickAddresses(vm.name ?? "", await readNetwork(ctx, vm, signal), ctx.cfg.usePublicIp);
}
