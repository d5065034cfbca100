// The pod's cloud volumes: cloud disks the user names in the pod annotation
// `io.confidentialcontainers.org.cloud_volumes`, attached to the pod VM at StartVM and mounted inside
// it (upstream's shape: CAA src/cloud-api-adaptor/pkg/adaptor/proxy/service.go builds the same JSON
// object, `{"<volume>": {mount_point, fs_type, lun, disk_id, fs_group?, encrypt_type?, key_id?}}`, and
// CAA pkg/forwarder/interceptor/interceptor.go mounts it). The annotation is user input: every field
// is checked here, with an error naming the volume and the field.

import { oneLine } from "../util/bounded-text.ts";

export const CLOUD_VOLUMES_ANNOTATION = "io.confidentialcontainers.org.cloud_volumes";
/** The file systems the VM side mounts (upstream's interceptor: ext4, ext3, xfs). */
export const CLOUD_VOLUME_FS_TYPES = ["ext4", "ext3", "xfs"] as const;
/** LUKS through the pod VM's confidential-data-hub, as upstream. */
export const CLOUD_VOLUME_ENCRYPT_TYPES = ["LUKS"] as const;
export const MAX_CLOUD_VOLUMES = 16;
const MAX_ANNOTATION_BYTES = 16 * 1024;
/** Azure's largest LUN range; AWS ignores the LUN (device names follow the order). */
const MAX_LUN = 63;
const NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;

export interface CloudVolume {
  /** The annotation's key; also the VM-side directory /run/cloud-volumes/<name>. */
  name: string;
  /** Where the disk appears in the pod's containers. */
  mountPoint: string;
  fsType: (typeof CLOUD_VOLUME_FS_TYPES)[number];
  lun: number;
  /** EBS `vol-…` id or Azure managed-disk ARM id; the provider checks its form. */
  diskId: string;
  fsGroup?: number;
  encryptType?: (typeof CLOUD_VOLUME_ENCRYPT_TYPES)[number];
  keyId?: string;
}

export class CloudVolumeError extends Error {
  constructor(message: string) {
    // The message quotes the annotation (V8's JSON errors too): one bounded line, whatever it holds.
    super(`${CLOUD_VOLUMES_ANNOTATION} annotation: ${oneLine(message)}`);
    this.name = "CloudVolumeError";
  }
}

function field(
  obj: Record<string, unknown>,
  vol: string,
  key: string,
  kind: "string" | "integer",
  required: boolean,
) {
  const v = obj[key];
  if (v === undefined || v === null || v === "") {
    if (required) throw new CloudVolumeError(`volume "${vol}": ${key} is missing`);
    return undefined;
  }
  if (kind === "string" && typeof v !== "string")
    throw new CloudVolumeError(`volume "${vol}": ${key} must be a string, got ${JSON.stringify(v)}`);
  if (kind === "integer") {
    // Upstream's JSON carries lun and fs_group as strings or numbers depending on the writer.
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
      throw new CloudVolumeError(
        `volume "${vol}": ${key} must be a non-negative integer, got ${JSON.stringify(v)}`,
      );
    return n;
  }
  return v as string;
}

function mountPointOf(vol: string, p: string): string {
  if (!p.startsWith("/") || p.length > 4096 || p.split("/").some((s) => s === "..") || /[\0\n,]/.test(p))
    throw new CloudVolumeError(
      `volume "${vol}": mount_point ${JSON.stringify(p)} must be an absolute path without "..", commas or newlines`,
    );
  return p.length > 1 ? p.replace(/\/+$/, "") : p;
}

const KNOWN_KEYS = new Set([
  "mount_point",
  "fs_type",
  "lun",
  "disk_id",
  "fs_group",
  "encrypt_type",
  "key_id",
]);

/** Parses and checks the annotation; "" or absent gives no volumes. Throws CloudVolumeError. */
export function parseCloudVolumes(text: string | undefined): CloudVolume[] {
  if (text === undefined || text.trim() === "") return [];
  if (Buffer.byteLength(text) > MAX_ANNOTATION_BYTES)
    throw new CloudVolumeError(`${Buffer.byteLength(text)} bytes, at most ${MAX_ANNOTATION_BYTES}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CloudVolumeError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new CloudVolumeError(
      `must be a JSON object of volumes, {"<name>": {"mount_point": …, "disk_id": …}}`,
    );
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > MAX_CLOUD_VOLUMES)
    throw new CloudVolumeError(`${entries.length} volumes, at most ${MAX_CLOUD_VOLUMES}`);
  const out: CloudVolume[] = [];
  for (const [name, raw] of entries) {
    if (!NAME.test(name))
      throw new CloudVolumeError(
        `volume name ${JSON.stringify(name)} must be 1-63 lower-case letters, digits, ".", "_" or "-"`,
      );
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw new CloudVolumeError(`volume "${name}" must be an object`);
    const obj = raw as Record<string, unknown>;
    const unknown = Object.keys(obj).filter((k) => !KNOWN_KEYS.has(k));
    if (unknown.length > 0)
      throw new CloudVolumeError(`volume "${name}": unknown field ${unknown.join(", ")}`);
    const fsType = field(obj, name, "fs_type", "string", true) as string;
    if (!(CLOUD_VOLUME_FS_TYPES as readonly string[]).includes(fsType))
      throw new CloudVolumeError(
        `volume "${name}": fs_type ${JSON.stringify(fsType)} is not one of ${CLOUD_VOLUME_FS_TYPES.join(", ")}`,
      );
    const lun = field(obj, name, "lun", "integer", true) as number;
    if (lun > MAX_LUN) throw new CloudVolumeError(`volume "${name}": lun ${lun} is above ${MAX_LUN}`);
    const diskId = field(obj, name, "disk_id", "string", true) as string;
    if (diskId.length > 1024 || /[\s\0]/.test(diskId))
      throw new CloudVolumeError(`volume "${name}": disk_id ${JSON.stringify(diskId)} is not a disk id`);
    const encryptType = field(obj, name, "encrypt_type", "string", false) as string | undefined;
    if (encryptType !== undefined && !(CLOUD_VOLUME_ENCRYPT_TYPES as readonly string[]).includes(encryptType))
      throw new CloudVolumeError(
        `volume "${name}": encrypt_type ${JSON.stringify(encryptType)} is not one of ${CLOUD_VOLUME_ENCRYPT_TYPES.join(", ")}`,
      );
    const keyId = field(obj, name, "key_id", "string", false) as string | undefined;
    if (encryptType !== undefined && keyId === undefined)
      throw new CloudVolumeError(`volume "${name}": encrypt_type ${encryptType} needs key_id`);
    const vol: CloudVolume = {
      name,
      mountPoint: mountPointOf(name, field(obj, name, "mount_point", "string", true) as string),
      fsType: fsType as CloudVolume["fsType"],
      lun,
      diskId,
    };
    const fsGroup = field(obj, name, "fs_group", "integer", false);
    if (fsGroup !== undefined) vol.fsGroup = fsGroup as number;
    if (encryptType !== undefined) vol.encryptType = encryptType as CloudVolume["encryptType"];
    if (keyId !== undefined) vol.keyId = keyId;
    out.push(vol);
  }
  for (const [key, label] of [
    ["mountPoint", "mount_point"],
    ["diskId", "disk_id"],
    ["lun", "lun"],
  ] as const) {
    const seen = new Map<unknown, string>();
    for (const v of out) {
      const other = seen.get(v[key]);
      if (other !== undefined)
        throw new CloudVolumeError(
          `volumes "${other}" and "${v.name}" have the same ${label} ${JSON.stringify(v[key])}`,
        );
      seen.set(v[key], v.name);
    }
  }
  return out;
}

/**
 * Upstream's JSON form, as the worker-side proxy writes it into the container's annotations: lun and
 * fs_group are strings there (CAA pkg/util CloudVolumeAnnotation has `LUN string`, `FSGroup string`),
 * so an upstream forwarder in the pod VM decodes what we write.
 */
export function cloudVolumesJson(volumes: readonly CloudVolume[]): string {
  const obj: Record<string, Record<string, string>> = {};
  for (const v of volumes) {
    obj[v.name] = {
      mount_point: v.mountPoint,
      fs_type: v.fsType,
      lun: String(v.lun),
      disk_id: v.diskId,
      ...(v.fsGroup !== undefined ? { fs_group: String(v.fsGroup) } : {}),
      ...(v.encryptType !== undefined ? { encrypt_type: v.encryptType } : {}),
      ...(v.keyId !== undefined ? { key_id: v.keyId } : {}),
    };
  }
  return JSON.stringify(obj);
}
