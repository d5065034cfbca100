// Microsoft.Compute/virtualMachines: PUT makes the VM and, from its networkInterfaceConfigurations
// and osDisk, the NIC, public IP and disk (as Azure does since network API 2020-11-01), and takes the
// existing disks its dataDisks attach (disks.ts); DELETE removes the VM and whatever has deleteOption
// Delete, and detaches the rest. Shapes follow the spec examples
// VirtualMachine_Create_WithSecurityTypeConfidentialVM.json, VirtualMachine_Get.json, VirtualMachine_Delete_Force.json.
import { randomBytes, randomUUID } from "node:crypto";
import type { ArmError, ArmJson, NicConfig, VmPutBody } from "./arm-types.ts";
import type { Faults } from "./faults.ts";
import { armError, json, notFound, page, type Ctx, type Reply } from "./http.ts";
import { attachDataDisks } from "./disks.ts";
import { acceptedCreate, acceptedDelete } from "./operations.ts";
import { validateVmPut } from "./vm-validate.ts";
import { EmulatorState, type Cascade, type VmEntry } from "./state.ts";

const ALLOCATION_FAILED =
  "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance";

function quotaMessage(size: string, location: string): string {
  return `Operation could not be completed as it results in exceeding approved ${size} Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: ${location}, Current Limit: 10, Current Usage: 10, Additional Required: 2.`;
}

function rgPath(state: EmulatorState, rg: string): string {
  return `/subscriptions/${state.options.subscriptionId}/resourceGroups/${rg}/providers`;
}

function macAddress(): string {
  return [
    "00",
    "0D",
    "3A",
    ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, "0").toUpperCase()),
  ].join("-");
}

/** Make the NICs (and public IPs) a VM's networkInterfaceConfigurations describe. */
function makeNics(state: EmulatorState, rg: string, vmId: string, configs: NicConfig[], cascade: Cascade[]) {
  const refs: Array<{ id: string; properties: { primary: boolean; deleteOption: string } }> = [];
  for (const [i, cfg] of configs.entries()) {
    const nicName = cfg.name ?? `nic-${i}`;
    const nicId = `${rgPath(state, rg)}/Microsoft.Network/networkInterfaces/${nicName}`;
    const ipConfigurations = (cfg.properties?.ipConfigurations ?? []).map((ipc, j) => {
      const ipcName = ipc.name ?? `ipconfig${j}`;
      const ipcId = `${nicId}/ipConfigurations/${ipcName}`;
      const subnetId = ipc.properties?.subnet?.id ?? "";
      const props: Record<string, unknown> = {
        provisioningState: "Succeeded",
        privateIPAddress: state.allocPrivateIp(subnetId),
        privateIPAllocationMethod: "Dynamic",
        privateIPAddressVersion: "IPv4",
        subnet: { id: subnetId },
        primary: j === 0,
      };
      const pipCfg = ipc.properties?.publicIPAddressConfiguration;
      if (pipCfg) {
        const pipName = pipCfg.name ?? `${nicName}-pip`;
        const pipId = `${rgPath(state, rg)}/Microsoft.Network/publicIPAddresses/${pipName}`;
        state.publicIps.set(EmulatorState.key(rg, pipName), publicIp(state, pipId, pipName, ipcId));
        cascade.push({
          kind: "publicIp",
          name: pipName,
          deleteOption: pipCfg.properties?.deleteOption ?? "Detach",
        });
        props.publicIPAddress = { id: pipId };
      }
      return {
        name: ipcName,
        id: ipcId,
        type: "Microsoft.Network/networkInterfaces/ipConfigurations",
        properties: props,
      };
    });
    const nic: ArmJson = {
      id: nicId,
      name: nicName,
      type: "Microsoft.Network/networkInterfaces",
      location: state.options.location,
      etag: `W/"${randomUUID()}"`,
      properties: {
        provisioningState: "Succeeded",
        resourceGuid: randomUUID(),
        ipConfigurations,
        networkSecurityGroup: cfg.properties?.networkSecurityGroup,
        virtualMachine: { id: vmId },
        macAddress: macAddress(),
        primary: i === 0,
        nicType: "Standard",
        enableAcceleratedNetworking: false,
        enableIPForwarding: false,
      },
    };
    state.nics.set(EmulatorState.key(rg, nicName), nic);
    const deleteOption = cfg.properties?.deleteOption ?? "Detach";
    cascade.push({ kind: "nic", name: nicName, deleteOption });
    refs.push({ id: nicId, properties: { primary: i === 0, deleteOption } });
  }
  return refs;
}

export function publicIp(
  state: EmulatorState,
  id: string,
  name: string,
  ipConfigurationId?: string,
): ArmJson {
  return {
    id,
    name,
    type: "Microsoft.Network/publicIPAddresses",
    location: state.options.location,
    sku: { name: "Standard", tier: "Regional" },
    properties: {
      provisioningState: "Succeeded",
      resourceGuid: randomUUID(),
      ipAddress: state.allocPublicIp(),
      publicIPAddressVersion: "IPv4",
      publicIPAllocationMethod: "Static",
      idleTimeoutInMinutes: 4,
      ipConfiguration: ipConfigurationId ? { id: ipConfigurationId } : undefined,
    },
  };
}

function makeDisk(
  state: EmulatorState,
  rg: string,
  vmName: string,
  vmId: string,
  body: VmPutBody,
  cascade: Cascade[],
) {
  const osDisk = body.properties?.storageProfile?.osDisk ?? {};
  const name = osDisk.name ?? `${vmName}_OsDisk_1_${randomBytes(16).toString("hex")}`;
  const id = `${rgPath(state, rg)}/Microsoft.Compute/disks/${name}`;
  const encryption = osDisk.managedDisk?.securityProfile?.securityEncryptionType;
  state.disks.set(EmulatorState.key(rg, name), {
    id,
    name,
    type: "Microsoft.Compute/disks",
    location: state.options.location,
    managedBy: vmId,
    sku: { name: osDisk.managedDisk?.storageAccountType ?? "Premium_LRS", tier: "Premium" },
    properties: {
      osType: "Linux",
      hyperVGeneration: "V2",
      creationData: {
        createOption: "FromImage",
        imageReference: body.properties?.storageProfile?.imageReference,
      },
      diskSizeGB: osDisk.diskSizeGB ?? 30,
      diskState: "Attached",
      provisioningState: "Succeeded",
      timeCreated: new Date().toISOString(),
      securityProfile: encryption
        ? { securityType: `ConfidentialVM_${encryption}EncryptedWithPlatformKey` }
        : undefined,
    },
  });
  cascade.push({ kind: "disk", name, deleteOption: osDisk.deleteOption ?? "Detach" });
  return { ...osDisk, name, osType: "Linux", managedDisk: { ...osDisk.managedDisk, id } };
}

function vmResource(
  state: EmulatorState,
  rg: string,
  name: string,
  body: VmPutBody,
  cascade: Cascade[],
): ArmJson {
  const id = `${rgPath(state, rg)}/Microsoft.Compute/virtualMachines/${name}`;
  const p = body.properties ?? {};
  const { adminPassword: _password, ...osProfile } = p.osProfile ?? {};
  const networkInterfaces = [
    ...(p.networkProfile?.networkInterfaces ?? []).map((r) => ({ id: r.id ?? "", properties: r.properties })),
    ...makeNics(state, rg, id, p.networkProfile?.networkInterfaceConfigurations ?? [], cascade),
  ];
  const osDisk = makeDisk(state, rg, name, id, body, cascade);
  const dataDisks = attachDataDisks(state, id, p.storageProfile?.dataDisks ?? [], cascade);
  return {
    id,
    name,
    type: "Microsoft.Compute/virtualMachines",
    location: state.options.location,
    tags: body.tags,
    etag: '"1"',
    properties: {
      hardwareProfile: p.hardwareProfile,
      storageProfile: { imageReference: p.storageProfile?.imageReference, osDisk, dataDisks },
      osProfile: {
        ...osProfile,
        secrets: [],
        allowExtensionOperations: true,
        requireGuestProvisionSignal: true,
      },
      networkProfile: { ...p.networkProfile, networkInterfaces },
      securityProfile: p.securityProfile,
      diagnosticsProfile: p.diagnosticsProfile,
      vmId: randomUUID(),
      provisioningState: "Creating",
      timeCreated: new Date().toISOString(),
    },
  };
}

function provisioningState(entry: VmEntry): string {
  return String(entry.resource.properties.provisioningState);
}

export function putVm(ctx: Ctx, state: EmulatorState, faults: Faults): Reply {
  const { rg, name } = ctx.params;
  const body = (ctx.body ?? {}) as VmPutBody;
  const key = EmulatorState.key(rg, name);
  const existing = state.vms.get(key);
  if (existing) return updateVm(existing, body);
  const invalid = validateVmPut(state, name, body);
  if (invalid) return invalid;
  const size = body.properties?.hardwareProfile?.vmSize;
  const conflict = faults.take("conflict", size);
  if (conflict) {
    const code = conflict.code ?? "OperationNotAllowed";
    return armError(409, code, conflict.message ?? quotaMessage(size ?? "", state.options.location));
  }
  const cascade: Cascade[] = [];
  const entry: VmEntry = {
    resource: vmResource(state, rg, name, body, cascade),
    userData: body.properties?.userData,
    cascade,
  };
  state.vms.set(key, entry);
  const failure = faults.take("lroFailure", size);
  const op = state.startOperation(
    "Microsoft.Compute",
    "create",
    state.options.lroDelayMs,
    (): ArmError | undefined => {
      if (state.vms.get(key) !== entry) {
        return {
          code: "OperationPreempted",
          message: "Operation execution has been preempted by a more recent operation.",
        };
      }
      if (failure) {
        entry.resource.properties.provisioningState = "Failed";
        return { code: failure.code ?? "AllocationFailed", message: failure.message ?? ALLOCATION_FAILED };
      }
      entry.resource.properties.provisioningState = "Succeeded";
      return undefined;
    },
    entry.resource.id,
  );
  const after = faults.take("errorAfterAccept", size);
  if (after) {
    const status = after.status ?? 503;
    const code = after.code ?? (status === 503 ? "ServerTimeout" : "InternalServerError");
    return armError(status, code, after.message ?? "The server operation timed out. Please try again.");
  }
  return acceptedCreate(ctx, state, op, 201, vmView(entry));
}

/** A PUT on an existing VM: tags may change; the OS profile and image may not. */
function updateVm(entry: VmEntry, body: VmPutBody): Reply {
  const state = provisioningState(entry);
  if (state === "Creating" || state === "Deleting" || state === "Updating") {
    return armError(
      409,
      "OperationNotAllowed",
      `Operation 'PUT' is not allowed on VM '${entry.resource.name}' while it is ${state}.`,
    );
  }
  const stored = entry.resource.properties as VmPutBody["properties"] & Record<string, unknown>;
  const { adminPassword: _pw, ...wantedOs } = body.properties?.osProfile ?? {};
  const sameOs =
    JSON.stringify(wantedOs.linuxConfiguration) === JSON.stringify(stored?.osProfile?.linuxConfiguration);
  const sameImage =
    JSON.stringify(body.properties?.storageProfile?.imageReference) ===
    JSON.stringify(stored?.storageProfile?.imageReference);
  if (!sameOs)
    return armError(
      409,
      "PropertyChangeNotAllowed",
      "Changing property 'linuxConfiguration' is not allowed.",
      { target: "linuxConfiguration" },
    );
  if (!sameImage)
    return armError(409, "PropertyChangeNotAllowed", "Changing property 'imageReference' is not allowed.", {
      target: "imageReference",
    });
  entry.resource.tags = body.tags;
  return json(200, vmView(entry));
}

function vmView(entry: VmEntry, expandUserData = false): ArmJson {
  if (!expandUserData) return entry.resource;
  return { ...entry.resource, properties: { ...entry.resource.properties, userData: entry.userData } };
}

export function getVm(ctx: Ctx, state: EmulatorState): Reply {
  const { rg, name } = ctx.params;
  const entry = state.vms.get(EmulatorState.key(rg, name));
  if (!entry) return notFound("Microsoft.Compute/virtualMachines", name, rg);
  return json(200, vmView(entry, ctx.url.searchParams.get("$expand") === "userData"));
}

export function listVms(ctx: Ctx, state: EmulatorState): Reply {
  const rg = ctx.params.rg.toLowerCase();
  const items = [...state.vms.entries()].filter(([k]) => k.startsWith(`${rg}/`)).map(([, e]) => e.resource);
  return page(ctx, items, state.options.pageSize);
}

export function deleteVm(ctx: Ctx, state: EmulatorState, faults: Faults): Reply {
  const { rg, name } = ctx.params;
  const key = EmulatorState.key(rg, name);
  const entry = state.vms.get(key);
  if (!entry) return { status: 204 };
  entry.resource.properties.provisioningState = "Deleting";
  const leaves = faults.deleteLeaves();
  const op = state.startOperation("Microsoft.Compute", "delete", state.options.lroDelayMs, () => {
    if (state.vms.get(key) === entry) state.vms.delete(key);
    for (const c of entry.cascade) releaseCascaded(state, rg, c, leaves.includes(c.kind));
    return undefined;
  });
  return acceptedDelete(ctx, state, op);
}

/** What a VM delete does to one resource it made: delete it, or detach it and leave it. */
function releaseCascaded(state: EmulatorState, rg: string, c: Cascade, leave: boolean): void {
  const map = state.mapOf(c.kind);
  const key = EmulatorState.key(rg, c.name);
  const res = map.get(key);
  if (!res) return;
  if (c.deleteOption === "Delete" && !leave) {
    map.delete(key);
    if (c.kind === "nic") detachPublicIps(state, res);
    return;
  }
  if (c.kind === "disk") {
    delete res.managedBy;
    res.properties.diskState = "Unattached";
  }
  if (c.kind === "nic") delete res.properties.virtualMachine;
}

export function detachPublicIps(state: EmulatorState, nic: ArmJson): void {
  const ipcs = (nic.properties.ipConfigurations ?? []) as Array<{
    properties: { publicIPAddress?: { id: string } };
  }>;
  for (const ipc of ipcs) {
    const id = ipc.properties.publicIPAddress?.id;
    const pip = [...state.publicIps.values()].find((p) => p.id.toLowerCase() === id?.toLowerCase());
    if (pip) delete pip.properties.ipConfiguration;
  }
}
