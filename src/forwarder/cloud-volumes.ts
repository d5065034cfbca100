// The VM side of cloud volumes, as upstream's forwarder does it (CAA
// pkg/forwarder/interceptor/interceptor.go): each disk of the container's cloud_volumes annotation
// is found by its LUN or volume id (disk-device.ts) and mounted at /run/cloud-volumes/<name> —
// mounted as it is when it has a file system, formatted with fs_type only when blkid finds no
// signature at all (never over data it cannot read) — fs_group gets the directory (setgid, 2775),
// and DestroySandbox unmounts them in reverse order. Paths are under `root` ("/" in a VM; a local
// VM's directory otherwise). LUKS volumes need the confidential-data-hub's secure mount, which this
// forwarder does not call: they are refused with that reason instead of being mounted in clear.
import { chmod, chown, mkdir, readFile } from "../util/lean-fs.ts";
import path from "node:path";
import type { Logger } from "../log/logger.ts";
import { CommandError, run } from "../podnetwork/exec.ts";
import type { CloudVolume } from "../sandbox/cloud-volumes.ts";
import { findDataDisk, type DeviceSearch } from "./disk-device.ts";

export const CLOUD_VOLUME_BASE = "/run/cloud-volumes";
const MKFS_TIMEOUT_MS = 10 * 60_000;

async function isMountPoint(dir: string): Promise<boolean> {
  const table = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  // Field 5 is the mount point, with spaces and the like octal-escaped.
  const escaped = dir.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
  return table.split("\n").some((line) => line.split(" ")[4] === escaped);
}

async function formatAndMount(device: string, dir: string, fsType: string, log: Logger): Promise<void> {
  try {
    await run(["mount", "-t", fsType, device, dir]);
    log.info(`mounted existing file system on ${device} at ${dir} (type=${fsType})`);
    return;
  } catch (err) {
    log.info(`initial mount of ${device} failed (expected for a new disk): ${(err as Error).message}`);
  }
  let signature: string;
  try {
    signature = (await run(["blkid", "-p", device])).trim();
  } catch (err) {
    // blkid -p exits 2 when it finds no signature: the only case in which formatting is safe.
    if (!(err instanceof CommandError) || err.exitCode !== 2)
      throw new Error(`cannot tell whether ${device} holds a file system; refusing to format it`, {
        cause: err,
      });
    log.info(`no file system on ${device}, formatting as ${fsType}`);
    await run([`mkfs.${fsType}`, device], { timeoutMs: MKFS_TIMEOUT_MS });
    await run(["mount", "-t", fsType, device, dir]);
    log.info(`mounted ${device} at ${dir} (type=${fsType}, new file system)`);
    return;
  }
  try {
    await run(["mount", device, dir]);
  } catch (err) {
    throw new Error(
      `${device} holds ${signature || "a signature"} but does not mount: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  log.info(`mounted ${device} at ${dir} (type from ${signature})`);
}

export class CloudVolumeMounter {
  readonly #root: string;
  readonly #search: DeviceSearch;
  /** Mounted directories (under root), in mount order. */
  readonly #mounted: string[] = [];

  constructor(root: string, search: Omit<DeviceSearch, "root">) {
    this.#root = root;
    this.#search = { root, ...search };
  }

  /** Mounts the volume's disk (once per forwarder) and returns its directory as the VM sees it. */
  async mount(vol: CloudVolume, log: Logger, signal?: AbortSignal): Promise<string> {
    const vmPath = `${CLOUD_VOLUME_BASE}/${vol.name}`;
    if (vol.encryptType !== undefined)
      throw new Error(
        `cloud volume ${vol.name}: encrypt_type ${vol.encryptType} needs the confidential-data-hub secure mount, which this forwarder does not do; not mounting it unencrypted`,
      );
    const dir = path.join(this.#root, vmPath);
    if (this.#mounted.includes(dir)) return vmPath;
    // Mounted by this VM's forwarder before it restarted: keep it, and unmount it at the end too.
    if (await isMountPoint(dir)) {
      this.#mounted.push(dir);
      return vmPath;
    }
    const device = await findDataDisk(this.#search, vol.lun, vol.diskId, signal);
    log.info(`cloud volume ${vol.name}: LUN ${vol.lun} -> device ${device}`);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await formatAndMount(device, dir, vol.fsType, log);
    this.#mounted.push(dir);
    if (vol.fsGroup !== undefined) {
      try {
        await chown(dir, -1, vol.fsGroup);
        await chmod(dir, 0o2775);
        log.info(`cloud volume ${vol.name}: applied fsGroup ${vol.fsGroup} to ${vmPath}`);
      } catch (err) {
        log.warn(`cloud volume ${vol.name}: applying fsGroup ${vol.fsGroup}: ${(err as Error).message}`);
      }
    }
    return vmPath;
  }

  /** DestroySandbox: unmount in reverse order; a failure is logged and the rest still go. */
  async unmountAll(log: Logger): Promise<void> {
    while (this.#mounted.length > 0) {
      const dir = this.#mounted.pop() as string;
      try {
        await run(["umount", dir]);
        log.info(`unmounted cloud volume ${dir}`);
      } catch (err) {
        log.warn(`failed to unmount cloud volume ${dir}: ${(err as Error).message}`);
      }
    }
  }
}
