// Which block device in the pod VM is a cloud volume, as upstream's forwarder finds it (CAA
// pkg/forwarder/interceptor/interceptor.go findDataDiskDevice): on Azure the udev links
// /dev/disk/azure/data/by-lun/<lun> or /dev/disk/azure/scsi1/lun<lun>; on AWS the NVMe link
// /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_<vol id without "-">; else a SCSI device whose
// sysfs address (host:channel:target:lun) has that LUN on a host other than 0 (Azure keeps the OS
// and temporary disks on host 0). Data disks appear some seconds after boot, so the search is
// retried. Every path is under `root` ("/" in a VM) so that a test can lay out its own /dev links.
import { readdir, realpath, stat } from "../util/lean-fs.ts";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface DeviceSearch {
  root: string;
  attempts: number;
  delayMs: number;
}

async function resolved(p: string): Promise<string | undefined> {
  try {
    const target = await realpath(p);
    await stat(target);
    return target;
  } catch {
    return undefined;
  }
}

/** A device under sysfs whose H:C:T:L address has this LUN on a host other than 0. */
async function bySysfsAddress(root: string, lun: number): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(path.join(root, "sys/block"));
  } catch {
    return undefined;
  }
  for (const name of names.filter((n) => /^(sd|vd|nvme)/.test(n)).sort()) {
    const dev = await resolved(path.join(root, "sys/block", name, "device"));
    const hctl = dev?.split("/").find((part) => /^\d+:\d+:\d+:\d+$/.test(part));
    if (!hctl) continue;
    const [host, , , l] = hctl.split(":").map(Number);
    if (host !== 0 && l === lun) return resolved(path.join(root, "dev", name));
  }
  return undefined;
}

async function findOnce(root: string, lun: number, diskId: string): Promise<string | undefined> {
  const links = [
    `dev/disk/azure/data/by-lun/${lun}`,
    `dev/disk/azure/scsi1/lun${lun}`,
    ...(diskId.startsWith("vol-")
      ? [`dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${diskId.replaceAll("-", "")}`]
      : []),
  ];
  for (const link of links) {
    const dev = await resolved(path.join(root, link));
    if (dev) return dev;
  }
  return bySysfsAddress(root, lun);
}

export async function findDataDisk(
  search: DeviceSearch,
  lun: number,
  diskId: string,
  signal?: AbortSignal,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const dev = await findOnce(search.root, lun, diskId);
    if (dev) return dev;
    if (attempt >= search.attempts)
      throw new Error(
        `no data disk found for LUN ${lun} (disk ${diskId}) after ${attempt} attempts: no /dev/disk/azure link, no EBS NVMe link, no SCSI device with that LUN`,
      );
    await sleep(search.delayMs, undefined, { signal });
  }
}
