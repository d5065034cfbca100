// Cloud volumes on Azure: the pod's managed disks (its cloud_volumes annotation,
// src/sandbox/cloud-volumes.ts) go into the one VM PUT as storageProfile.dataDisks, as upstream
// attaches its CSI volumes (CAA src/cloud-providers/azure/provider.go getVMParameters: LUN from the
// volume, createOption Attach, deleteOption Detach; validateDiskCount against the size's
// MaxDataDiskCount and DisksClient.Get for the disk's state and region before the create).
// deleteOption Detach is what keeps the user's disk when the VM is deleted: ARM detaches it and the
// removal path (removal.ts) only ever deletes the OS disk it named itself, so a restarted daemon
// that knows nothing of the volumes cannot delete one either.
import type { DataDisk, Disk } from "@azure/arm-compute";
import { InvalidConfigError } from "../errors.ts";
import type { CloudVolumeAttachment } from "../types.ts";
import { describeFailure, toProviderError } from "./azure-errors.ts";
import { callOptions, type AzureContext } from "./context.ts";

const DISK_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/disks\/([^/]+)$/i;

export function dataDisks(volumes: readonly CloudVolumeAttachment[]): DataDisk[] {
  return volumes.map((v) => ({
    lun: v.lun,
    createOption: "Attach",
    deleteOption: "Detach",
    managedDisk: { id: v.diskId },
  }));
}

function diskRef(v: CloudVolumeAttachment, subscriptionId: string): { rg: string; name: string } {
  const m = DISK_ID.exec(v.diskId);
  if (!m)
    throw new InvalidConfigError(
      `cloud volume "${v.name}": disk_id ${v.diskId} is not a managed-disk ARM id (/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/disks/<name>)`,
      { code: "InvalidDiskId" },
    );
  if (m[1].toLowerCase() !== subscriptionId.toLowerCase())
    throw new InvalidConfigError(
      `cloud volume "${v.name}": disk ${m[3]} is in subscription ${m[1]}, not ${subscriptionId} (AZURE_SUBSCRIPTION_ID)`,
      { code: "InvalidDiskId" },
    );
  return { rg: m[2], name: m[3] };
}

/**
 * Before the PUT: the size takes this many data disks, and every disk exists, is in the VM's region
 * and is attached to no VM. Each failure names the volume; nothing is made.
 */
export async function checkDataDisks(
  ctx: AzureContext,
  volumes: readonly CloudVolumeAttachment[],
  size: string,
  maxDataDisks: number | undefined,
  signal?: AbortSignal,
): Promise<void> {
  if (volumes.length === 0) return;
  const { cfg } = ctx;
  if (maxDataDisks !== undefined && volumes.length > maxDataDisks)
    throw new InvalidConfigError(
      `cloud volumes: ${volumes.length} data disks requested but VM size ${size} takes at most ${maxDataDisks}`,
      { code: "TooManyDataDisks" },
    );
  for (const v of volumes) {
    const { rg, name } = diskRef(v, cfg.subscriptionId);
    let disk: Disk;
    try {
      disk = await ctx.compute.disks.get(rg, name, callOptions(signal));
    } catch (err) {
      if (describeFailure(err).status === 404)
        throw new InvalidConfigError(
          `cloud volume "${v.name}": disk ${name} not found in resource group ${rg}`,
          {
            code: "DiskNotFound",
            cause: err,
          },
        );
      throw toProviderError(`Azure disk get ${name} (cloud volume "${v.name}")`, err);
    }
    if (disk.managedBy)
      throw new InvalidConfigError(
        `cloud volume "${v.name}": disk ${name} is attached to ${disk.managedBy}, not free to attach`,
        { code: "DiskInUse" },
      );
    if (disk.location.toLowerCase() !== cfg.region.toLowerCase())
      throw new InvalidConfigError(
        `cloud volume "${v.name}": disk ${name} is in ${disk.location}, the pod VM in ${cfg.region} (AZURE_REGION)`,
        { code: "DiskInOtherRegion" },
      );
  }
}
