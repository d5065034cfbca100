// The Azure provider (docs/upstream-compat.md §8): pod VMs made with one VM PUT each, owner tags on every
// VM so that List finds them, and deletes that make sure the NIC, disk and public IP went too.
import type { VirtualMachine } from "@azure/arm-compute";
import type { NetworkInterface, PublicIPAddress } from "@azure/arm-network";
import { asCaller } from "../cloudapi/caller.ts";
import { NotFoundError, ProviderError } from "../errors.ts";
import type { ApiFamilyState, CreateRequest, Instance, InstanceType, OwnerTags, Provider } from "../types.ts";
import type { ArmRateLimiter } from "./rate-limit.ts";
import { toProviderError } from "./azure-errors.ts";
import { callOptions, type AzureContext } from "./context.ts";
import { createVm } from "./create-vm.ts";
import { parseVmId, type VmRef } from "./ids.ts";
import { addressesOf, AddressNotReadyError, nicIdsOf, readAddresses, toInstance } from "./instance.ts";
import { removeVm, type VmParts } from "./removal.ts";
import { allowedInstanceTypes, missingSizes, wantedSizes } from "./sizes.ts";
import { generatedPublicKey, readPublicKey } from "./ssh-key.ts";
import { listSizes, verifyConfig } from "./startup.ts";
import { ownerTags } from "./vm-params.ts";

export class AzureProvider implements Provider {
  readonly name = "azure";
  private readonly ctx: AzureContext;
  private readonly home: string | undefined;
  private readonly suspects = new Set<string>();
  /** Parts of the VMs this process made, by lower-case VM name (dropped on delete). */
  private readonly parts = new Map<string, VmParts>();
  private types: InstanceType[] = [];
  /** MaxDataDiskCount per lower-case size name, from the region's size list. */
  private readonly maxDataDisks = new Map<string, number>();
  private sshPublicKey = "";

  private readonly limiter: ArmRateLimiter | undefined;

  constructor(ctx: AzureContext, home: string | undefined, limiter?: ArmRateLimiter) {
    this.ctx = ctx;
    this.home = home;
    this.limiter = limiter;
  }

  apiBudget(): ApiFamilyState[] {
    return this.limiter?.snapshot() ?? [];
  }

  async start(opts: { verify: boolean; signal?: AbortSignal }): Promise<void> {
    const { cfg, logger } = this.ctx;
    this.sshPublicKey = cfg.sshKeyPath
      ? await readPublicKey(cfg.sshKeyPath, this.home)
      : await generatedPublicKey();
    const listed = await listSizes(this.ctx, opts.signal);
    if (opts.verify) await verifyConfig(this.ctx, listed, opts.signal);
    const wanted = wantedSizes(cfg.instanceSizes, cfg.instanceSize);
    const missing = missingSizes(listed, wanted);
    if (missing.length > 0) {
      logger.warn(
        { missing, region: cfg.region },
        "VM sizes not offered in the region are left out of the allow-list",
      );
    }
    this.types = allowedInstanceTypes(listed, wanted);
    for (const s of listed)
      if (s.name && s.maxDataDiskCount !== undefined)
        this.maxDataDisks.set(s.name.toLowerCase(), s.maxDataDiskCount);
    logger.info(
      { region: cfg.region, resourceGroup: cfg.resourceGroup, sizes: this.types.map((t) => t.name) },
      "Azure provider ready",
    );
  }

  instanceTypes(): InstanceType[] {
    return this.types;
  }

  defaultInstanceType(): string {
    return this.ctx.cfg.instanceSize;
  }

  allowList(): string[] {
    return [...this.ctx.cfg.instanceSizes];
  }

  async create(req: CreateRequest, signal?: AbortSignal): Promise<Instance> {
    if (this.sshPublicKey === "")
      throw new ProviderError("Azure provider: create before start", { code: "NotStarted" });
    return asCaller(req.owner.sandboxId, () =>
      createVm(
        {
          ctx: this.ctx,
          sshPublicKey: this.sshPublicKey,
          suspects: this.suspects,
          remember: (name, parts) => this.parts.set(name.toLowerCase(), parts),
          maxDataDisks: (size) => this.maxDataDisks.get(size.toLowerCase()),
        },
        req,
        signal,
      ),
    );
  }

  /** The VM an instance id names, if it is a VM of this provider's subscription. */
  private ref(id: string): VmRef | undefined {
    const ref = parseVmId(id);
    return ref && ref.subscriptionId.toLowerCase() === this.ctx.cfg.subscriptionId.toLowerCase()
      ? ref
      : undefined;
  }

  /** As ref(), for calls that must name a VM: anything else is NotFound. */
  private refOrNotFound(id: string): VmRef {
    const ref = this.ref(id);
    if (!ref) {
      throw new NotFoundError(`Azure VM ${JSON.stringify(id)} is not a VM ARM id in this subscription`, {
        code: "InvalidInstanceId",
      });
    }
    return ref;
  }

  delete(id: string, signal?: AbortSignal): Promise<void> {
    return asCaller(id, () => this.deleteVm(id, signal));
  }

  private async deleteVm(id: string, signal?: AbortSignal): Promise<void> {
    const ref = this.ref(id);
    if (!ref)
      throw new ProviderError(
        `Azure VM delete: ${JSON.stringify(id)} is not a VM ARM id in this subscription`,
        {
          code: "InvalidInstanceId",
        },
      );
    try {
      const known = this.parts.get(ref.name.toLowerCase());
      const leftovers = await removeVm(this.ctx, ref.resourceGroup, ref.name, signal, known);
      if (leftovers.length > 0) {
        this.ctx.logger.warn({ instance: ref.name, leftovers }, "VM delete left these behind; deleted them");
      }
    } catch (err) {
      throw toProviderError(`Azure VM delete ${ref.name}`, err);
    }
    this.suspects.delete(ref.name);
    this.parts.delete(ref.name.toLowerCase());
  }

  get(id: string, signal?: AbortSignal): Promise<Instance> {
    return asCaller(id, () => this.getVm(id, signal));
  }

  private async getVm(id: string, signal?: AbortSignal): Promise<Instance> {
    const ref = this.refOrNotFound(id);
    let vm: VirtualMachine;
    try {
      vm = await this.ctx.compute.virtualMachines.get(ref.resourceGroup, ref.name, callOptions(signal));
    } catch (err) {
      throw toProviderError(`Azure VM get ${ref.name}`, err);
    }
    if (vm.provisioningState === "Deleting")
      throw new NotFoundError(`Azure VM ${ref.name} is being deleted`, { code: "Deleting" });
    try {
      return toInstance(vm, await readAddresses(this.ctx, vm, signal));
    } catch (err) {
      if (err instanceof AddressNotReadyError) return toInstance(vm, []);
      throw toProviderError(`Azure VM get ${ref.name}: reading its addresses`, err);
    }
  }

  /** The VM's userData (GET with $expand=userData), decoded to the text create() was given. */
  async readUserData(id: string, signal?: AbortSignal): Promise<string> {
    const ref = this.refOrNotFound(id);
    let vm: VirtualMachine;
    try {
      vm = await this.ctx.compute.virtualMachines.get(ref.resourceGroup, ref.name, {
        ...callOptions(signal),
        expand: "userData",
      });
    } catch (err) {
      throw toProviderError(`Azure VM get ${ref.name} userData`, err);
    }
    return Buffer.from(vm.userData ?? "", "base64").toString("utf8");
  }

  /** Three list calls in all (VMs, NICs, public IPs), however many VMs match. */
  async list(owner: Partial<OwnerTags>, signal?: AbortSignal): Promise<Instance[]> {
    const { cfg, compute, network } = this.ctx;
    const want = Object.entries(ownerTags(owner));
    const o = callOptions(signal);
    try {
      const vms: VirtualMachine[] = [];
      for await (const vm of compute.virtualMachines.list(cfg.resourceGroup, o)) {
        if (vm.provisioningState !== "Deleting" && want.every(([k, v]) => vm.tags?.[k] === v)) vms.push(vm);
      }
      if (vms.length === 0) return [];
      const nics = new Map<string, NetworkInterface>();
      for await (const nic of network.networkInterfaces.list(cfg.resourceGroup, o))
        nics.set(nic.id?.toLowerCase() ?? "", nic);
      const publicIps = new Map<string, PublicIPAddress>();
      if (cfg.usePublicIp) {
        for await (const pip of network.publicIPAddresses.list(cfg.resourceGroup, o))
          publicIps.set(pip.id?.toLowerCase() ?? "", pip);
      }
      return vms.map((vm) => {
        const own = nicIdsOf(vm).flatMap((id) => nics.get(id.toLowerCase()) ?? []);
        const found = addressesOf(own, publicIps);
        return toInstance(vm, cfg.usePublicIp ? [...found.public, ...found.private] : found.private);
      });
    } catch (err) {
      throw toProviderError(`Azure VM list in ${cfg.resourceGroup}`, err);
    }
  }

  async close(): Promise<void> {
    this.limiter?.close();
    this.suspects.clear();
    this.parts.clear();
  }
}
