// What the emulated subscription holds: VMs, NICs, public IPs, disks and long-running operations.
// Operations finish lazily: every request first settles the ones whose time has come, so a test
// sees the same order of events whatever the machine's speed.
import { randomUUID } from "node:crypto";
import type { ArmError, ArmJson } from "./arm-types.ts";
import type { EmulatorOptions, VmSize } from "./types.ts";
import { EMULATOR_CLIENT_SECRET } from "../helpers/test-secrets.ts";

export type ResourceKind = "vm" | "nic" | "publicIp" | "disk";

export interface Cascade {
  kind: "nic" | "publicIp" | "disk";
  name: string;
  deleteOption: string;
}

export interface VmEntry {
  resource: ArmJson;
  userData: string | undefined;
  /** Resources the VM create made, with what happens to each when the VM is deleted. */
  cascade: Cascade[];
}

export interface Operation {
  id: string;
  provider: "Microsoft.Compute" | "Microsoft.Network";
  kind: "create" | "delete";
  status: "InProgress" | "Succeeded" | "Failed";
  startTime: string;
  endTime?: string;
  doneAt: number;
  /** For creates: the resource the Location URL answers with when done. */
  resourceId?: string;
  error?: ArmError;
  /** Runs when the operation is due; returns an error to end it Failed. */
  complete: () => ArmError | undefined;
}

export interface ResolvedOptions {
  subscriptionId: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  location: string;
  resourceGroups: string[];
  subnets: Array<{ id: string; addressPrefix: string }>;
  nsgs: string[];
  images: string[];
  vmSizes: VmSize[];
  lroDelayMs: number;
  networkDelayMs: number;
  retryAfterSec: number;
  pageSize: number;
  requireAuth: boolean;
  rateLimit: NonNullable<EmulatorOptions["rateLimit"]>;
}

export const DEFAULT_SIZES: VmSize[] = [
  { name: "Standard_DC2as_v5", numberOfCores: 2, memoryInMB: 8192, maxDataDiskCount: 4 },
  { name: "Standard_DC4as_v5", numberOfCores: 4, memoryInMB: 16384, maxDataDiskCount: 8 },
  { name: "Standard_DC8as_v5", numberOfCores: 8, memoryInMB: 32768, maxDataDiskCount: 16 },
  { name: "Standard_DC2ads_v5", numberOfCores: 2, memoryInMB: 8192, maxDataDiskCount: 4 },
  { name: "Standard_D2as_v5", numberOfCores: 2, memoryInMB: 8192, maxDataDiskCount: 4 },
  { name: "Standard_B2s", numberOfCores: 2, memoryInMB: 4096, maxDataDiskCount: 4 },
];

export function resolveOptions(o: EmulatorOptions): ResolvedOptions {
  const subscriptionId = o.subscriptionId ?? "00000000-0000-0000-0000-00000000a2e1";
  const resourceGroups = o.resourceGroups ?? ["peerpods-rg"];
  const rg = resourceGroups[0];
  const net = `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network`;
  return {
    subscriptionId,
    tenantId: o.tenantId ?? "00000000-0000-0000-0000-0000000071e0",
    clientId: o.clientId ?? "peerpod-caa-test-client",
    clientSecret: o.clientSecret ?? EMULATOR_CLIENT_SECRET,
    location: o.location ?? "eastus",
    resourceGroups,
    subnets: o.subnets ?? [
      { id: `${net}/virtualNetworks/peerpods-vnet/subnets/default`, addressPrefix: "10.0.0.0/16" },
    ],
    nsgs: o.nsgs ?? [`${net}/networkSecurityGroups/peerpods-nsg`],
    images: o.images ?? [
      `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/images/podvm-image`,
    ],
    vmSizes: o.vmSizes ?? DEFAULT_SIZES,
    lroDelayMs: o.lroDelayMs ?? 50,
    networkDelayMs: o.networkDelayMs ?? 0,
    retryAfterSec: o.retryAfterSec ?? 0,
    pageSize: o.pageSize ?? 50,
    requireAuth: o.requireAuth ?? true,
    rateLimit: o.rateLimit ?? {},
  };
}

function ipv4ToInt(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export class EmulatorState {
  readonly options: ResolvedOptions;
  readonly vms = new Map<string, VmEntry>();
  readonly nics = new Map<string, ArmJson>();
  readonly publicIps = new Map<string, ArmJson>();
  readonly disks = new Map<string, ArmJson>();
  readonly operations = new Map<string, Operation>();
  /** Bearer tokens the login endpoint issued. */
  readonly tokens = new Set<string>();
  /** Tokens issued per kind of client credential ("client_secret", "client_assertion"). */
  readonly grants: Record<string, number> = {};
  private readonly nextHost = new Map<string, number>();
  private nextPublic = 10;

  constructor(options: ResolvedOptions) {
    this.options = options;
  }

  static key(rg: string, name: string): string {
    return `${rg}/${name}`.toLowerCase();
  }

  mapOf(kind: ResourceKind): Map<string, ArmJson> {
    if (kind === "nic") return this.nics;
    if (kind === "publicIp") return this.publicIps;
    return this.disks;
  }

  hasResourceGroup(rg: string): boolean {
    return this.options.resourceGroups.some((g) => g.toLowerCase() === rg.toLowerCase());
  }

  subnet(id: string | undefined): { id: string; addressPrefix: string } | undefined {
    return this.options.subnets.find((s) => s.id.toLowerCase() === id?.toLowerCase());
  }

  /** Azure keeps the first four addresses of a subnet for itself. */
  allocPrivateIp(subnetId: string): string {
    const subnet = this.subnet(subnetId);
    const [base, bits] = (subnet?.addressPrefix ?? "10.0.0.0/16").split("/");
    const host = this.nextHost.get(subnetId.toLowerCase()) ?? 4;
    if (host >= 2 ** (32 - Number(bits)) - 1) throw new Error(`subnet ${subnetId} is full`);
    this.nextHost.set(subnetId.toLowerCase(), host + 1);
    return intToIpv4(ipv4ToInt(base) + host);
  }

  /** Public addresses come from 203.0.113.0/24 (documentation range; nothing is ever sent there). */
  allocPublicIp(): string {
    const n = this.nextPublic++;
    return `203.0.113.${(n % 250) + 1}`;
  }

  startOperation(
    provider: Operation["provider"],
    kind: Operation["kind"],
    delayMs: number,
    complete: Operation["complete"],
    resourceId?: string,
  ): Operation {
    const op: Operation = {
      id: randomUUID(),
      provider,
      kind,
      status: "InProgress",
      startTime: new Date().toISOString(),
      doneAt: Date.now() + delayMs,
      resourceId,
      complete,
    };
    this.operations.set(op.id, op);
    return op;
  }

  /** Finish every operation whose time has come, oldest deadline first. */
  settle(now = Date.now()): void {
    const due = [...this.operations.values()]
      .filter((op) => op.status === "InProgress" && op.doneAt <= now)
      .sort((a, b) => a.doneAt - b.doneAt);
    for (const op of due) {
      const error = op.complete();
      op.status = error ? "Failed" : "Succeeded";
      op.error = error;
      op.endTime = new Date().toISOString();
    }
  }

  /** Names of what exists, for assertions. */
  snapshot(): { vms: string[]; nics: string[]; publicIps: string[]; disks: string[] } {
    this.settle();
    const names = (m: Map<string, { name: string } | VmEntry>) =>
      [...m.values()].map((v) => ("resource" in v ? v.resource.name : v.name)).sort();
    return {
      vms: names(this.vms),
      nics: names(this.nics),
      publicIps: names(this.publicIps),
      disks: names(this.disks),
    };
  }
}
