// Microsoft.Compute/disks: a standalone managed disk (what a user makes with `az disk create` for a
// pod's cloud_volumes), and the data disks of a VM PUT. A data disk with createOption Attach names
// an existing disk by id; the VM takes it (managedBy, diskState Attached) and its delete detaches it
// unless deleteOption is Delete. Shapes follow the Compute spec's disk and VM create examples
// (creationData.createOption Empty; dataDisks[] with lun, createOption, managedDisk.id).
import { randomUUID } from "node:crypto";
import type { ArmJson, DataDiskBody, DiskPutBody } from "./arm-types.ts";
import { armError, json, notFound, type Ctx, type Reply } from "./http.ts";
import { acceptedCreate } from "./operations.ts";
import { EmulatorState, type Cascade } from "./state.ts";

const MAX_LUN = 63;
const DISK_ID =
  /^\/subscriptions\/(?<sub>[^/]+)\/resourceGroups\/(?<rg>[^/]+)\/providers\/Microsoft\.Compute\/disks\/(?<name>[^/]+)$/i;

function diskPath(state: EmulatorState, rg: string, name: string): string {
  return `/subscriptions/${state.options.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/disks/${name}`;
}

export function putDisk(ctx: Ctx, state: EmulatorState): Reply {
  const { rg, name } = ctx.params;
  const body = (ctx.body ?? {}) as DiskPutBody;
  const key = EmulatorState.key(rg, name);
  const existing = state.disks.get(key);
  if (existing) {
    existing.tags = body.tags ?? existing.tags;
    return json(200, existing);
  }
  if (body.location?.toLowerCase() !== state.options.location.toLowerCase()) {
    return armError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location '${body.location}' is not available for resource type 'Microsoft.Compute/disks'.`,
    );
  }
  const createOption = body.properties?.creationData?.createOption;
  if (createOption !== "Empty") {
    return armError(400, "InvalidParameter", `createOption '${createOption}' is not supported here.`, {
      target: "createOption",
    });
  }
  const size = body.properties?.diskSizeGB;
  if (typeof size !== "number" || size < 1) {
    return armError(400, "InvalidParameter", "Disk size must be specified for an empty disk.", {
      target: "diskSizeGB",
    });
  }
  const id = diskPath(state, rg, name);
  const disk: ArmJson = {
    id,
    name,
    type: "Microsoft.Compute/disks",
    location: state.options.location,
    tags: body.tags,
    sku: { name: body.sku?.name ?? "Premium_LRS", tier: "Premium" },
    properties: {
      creationData: { createOption: "Empty" },
      diskSizeGB: size,
      diskState: "Unattached",
      provisioningState: "Succeeded",
      uniqueId: randomUUID(),
      timeCreated: new Date().toISOString(),
    },
  };
  state.disks.set(key, disk);
  const op = state.startOperation("Microsoft.Compute", "create", 0, () => undefined, id);
  return acceptedCreate(ctx, state, op, 201, disk);
}

/** The disk a data disk's managedDisk.id names, if it is in this subscription. */
function diskById(state: EmulatorState, id: string | undefined): ArmJson | undefined {
  const m = DISK_ID.exec(id ?? "");
  if (!m?.groups || m.groups.sub.toLowerCase() !== state.options.subscriptionId.toLowerCase())
    return undefined;
  return state.disks.get(EmulatorState.key(m.groups.rg, m.groups.name));
}

function invalid(message: string, target: string): Reply {
  return armError(400, "InvalidParameter", message, { target });
}

/** ARM's synchronous checks on storageProfile.dataDisks; nothing is made when one fails. */
export function validateDataDisks(
  state: EmulatorState,
  vmName: string,
  size: string,
  dataDisks: readonly DataDiskBody[],
): Reply | undefined {
  const max = state.options.vmSizes.find(
    (s) => s.name.toLowerCase() === size.toLowerCase(),
  )?.maxDataDiskCount;
  if (max !== undefined && dataDisks.length > max) {
    return armError(
      409,
      "OperationNotAllowed",
      `The maximum number of data disks allowed to be attached to a VM of this size is ${max}.`,
      { target: "dataDisks" },
    );
  }
  const luns = new Set<number>();
  for (const d of dataDisks) {
    if (typeof d.lun !== "number" || !Number.isInteger(d.lun) || d.lun < 0 || d.lun > MAX_LUN)
      return invalid(
        `The value ${String(d.lun)} of parameter 'dataDisk.lun' is out of range.`,
        "dataDisk.lun",
      );
    if (luns.has(d.lun)) return invalid(`A disk at LUN ${d.lun} already exists.`, "dataDisks");
    luns.add(d.lun);
    if (d.createOption !== "Attach")
      return invalid(
        `Data disk at LUN ${d.lun}: createOption '${String(d.createOption)}' needs a disk size or image; only Attach is emulated.`,
        "dataDisk.createOption",
      );
    const id = d.managedDisk?.id;
    const disk = diskById(state, id);
    if (!disk) {
      const name = id?.split("/").pop() ?? "";
      return notFound("Microsoft.Compute/disks", name, /resourceGroups\/([^/]+)/i.exec(id ?? "")?.[1] ?? "");
    }
    if (disk.location.toLowerCase() !== state.options.location.toLowerCase())
      return invalid(
        `Disk ${disk.id} is in location '${disk.location}', not the VM's.`,
        "dataDisk.managedDisk.id",
      );
    if (typeof disk.managedBy === "string")
      return armError(
        409,
        "OperationNotAllowed",
        `Cannot attach data disk '${disk.name}' to VM '${vmName}' because the disk is currently being used by VM '${disk.managedBy}'.`,
      );
  }
  return undefined;
}

/** The VM takes its data disks; each goes in the cascade with its deleteOption (default Detach). */
export function attachDataDisks(
  state: EmulatorState,
  vmId: string,
  dataDisks: readonly DataDiskBody[],
  cascade: Cascade[],
): Array<Record<string, unknown>> {
  return dataDisks.map((d) => {
    const disk = diskById(state, d.managedDisk?.id) as ArmJson;
    disk.managedBy = vmId;
    disk.properties.diskState = "Attached";
    const deleteOption = d.deleteOption ?? "Detach";
    cascade.push({ kind: "disk", name: disk.name, deleteOption });
    return {
      lun: d.lun,
      name: disk.name,
      createOption: "Attach",
      caching: d.caching ?? "None",
      deleteOption,
      toBeDetached: false,
      diskSizeGB: disk.properties.diskSizeGB,
      managedDisk: { id: disk.id, storageAccountType: (disk.sku as { name: string }).name },
    };
  });
}
