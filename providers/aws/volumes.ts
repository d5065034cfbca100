// Cloud volumes on AWS: the pod's EBS volumes (its cloud_volumes annotation, src/sandbox/cloud-volumes.ts)
// are checked before RunInstances and attached once the instance runs, as upstream attached its CSI
// volumes (CAA src/cloud-providers/aws/provider.go CreateInstance: DescribeVolumes must say
// `available`, ids `vol-[0-9a-f]{8,}`, AttachVolume as /dev/xvdb… after the running waiter, then poll
// DescribeVolumes every 3 s for up to 60 s). At delete they are detached before the instance is
// terminated and never deleted: they are the user's disks. The attachments are read back from EC2
// (attachment.instance-id, batched with other deletes), so a restarted daemon detaches them too.
import {
  AttachVolumeCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  waitUntilInstanceRunning,
  type EC2Client,
  type Volume,
} from "@aws-sdk/client-ec2";
import { InvalidConfigError, ProviderError } from "../errors.ts";
import type { CloudVolumeAttachment, ProviderLogger } from "../types.ts";
import { awsCode, toProviderError } from "./aws-errors.ts";
import type { Ec2Batches } from "./batches.ts";

const VOLUME_ID = /^vol-[0-9a-f]{8,}$/;
const ATTACH_POLL_MS = 3_000;
const ATTACH_WAIT_MS = 60_000;
const RUNNING_WAIT_S = 120;

/** /dev/xvdb, /dev/xvdc, … in annotation order (the root volume is /dev/xvda or /dev/sda1). */
export function deviceName(index: number): string {
  return `/dev/xvd${String.fromCharCode("b".charCodeAt(0) + index)}`;
}

/**
 * The root volume goes with the instance (EC2 would refuse to detach it anyway); moto does not
 * answer DeleteOnTermination, so the device tells it apart from the pod's volumes (deviceName()).
 */
function isRootDevice(device: string | undefined): boolean {
  return device === "/dev/sda1" || device === "/dev/xvda";
}

/** Every volume exists and is `available`; otherwise a clear error before anything is made. */
export async function checkVolumes(
  ec2: EC2Client,
  volumes: readonly CloudVolumeAttachment[],
  signal?: AbortSignal,
): Promise<void> {
  if (volumes.length === 0) return;
  for (const v of volumes)
    if (!VOLUME_ID.test(v.diskId))
      throw new InvalidConfigError(
        `cloud volume "${v.name}": disk_id ${v.diskId} is not an EBS volume id (vol-…)`,
        {
          code: "InvalidVolumeID.Malformed",
        },
      );
  let found: Volume[];
  try {
    const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: volumes.map((v) => v.diskId) }), {
      abortSignal: signal,
    });
    found = out.Volumes ?? [];
  } catch (err) {
    if (awsCode(err).startsWith("InvalidVolume"))
      throw new InvalidConfigError(`cloud volumes: ${awsCode(err)}: ${(err as Error).message}`, {
        code: awsCode(err),
        cause: err,
      });
    throw toProviderError("DescribeVolumes for the cloud volumes", err);
  }
  for (const v of volumes) {
    const vol = found.find((f) => f.VolumeId === v.diskId);
    if (!vol)
      throw new InvalidConfigError(`cloud volume "${v.name}": ${v.diskId} not found`, {
        code: "InvalidVolume.NotFound",
      });
    if (vol.State !== "available")
      throw new InvalidConfigError(`cloud volume "${v.name}": ${v.diskId} is ${vol.State}, not available`, {
        code: "VolumeInUse",
      });
  }
}

export async function attachVolumes(
  ec2: EC2Client,
  instanceId: string,
  volumes: readonly CloudVolumeAttachment[],
  logger: ProviderLogger,
  signal?: AbortSignal,
): Promise<void> {
  if (volumes.length === 0) return;
  await waitUntilInstanceRunning(
    { client: ec2, maxWaitTime: RUNNING_WAIT_S, minDelay: 2, maxDelay: 10, abortSignal: signal },
    { InstanceIds: [instanceId] },
  );
  for (const [i, v] of volumes.entries()) {
    try {
      await ec2.send(
        new AttachVolumeCommand({ InstanceId: instanceId, VolumeId: v.diskId, Device: deviceName(i) }),
        {
          abortSignal: signal,
        },
      );
    } catch (err) {
      throw toProviderError(`AttachVolume ${v.diskId} (cloud volume "${v.name}") to ${instanceId}`, err);
    }
    await waitAttached(ec2, instanceId, v, signal);
    logger.info(
      { instance: instanceId, volume: v.diskId, device: deviceName(i) },
      `attached cloud volume ${v.name} (${v.diskId}) as ${deviceName(i)}`,
    );
  }
}

async function waitAttached(
  ec2: EC2Client,
  instanceId: string,
  v: CloudVolumeAttachment,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + ATTACH_WAIT_MS;
  for (;;) {
    const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [v.diskId] }), {
      abortSignal: signal,
    });
    const att = out.Volumes?.[0]?.Attachments?.find((a) => a.InstanceId === instanceId);
    if (att?.State === "attached") return;
    if (Date.now() > deadline)
      throw new ProviderError(
        `cloud volume "${v.name}" (${v.diskId}) not attached to ${instanceId} after 60s`,
        {
          code: "VolumeAttachTimeout",
        },
      );
    await new Promise((r) => setTimeout(r, ATTACH_POLL_MS));
  }
}

/** Detaches every volume attached to the instance that would not go with it; failures are logged. */
export async function detachVolumes(
  ec2: EC2Client,
  batches: Ec2Batches,
  instanceId: string,
  logger: ProviderLogger,
  signal?: AbortSignal,
): Promise<void> {
  let volumes: Volume[];
  try {
    volumes = await batches.volumes(instanceId, signal);
  } catch (err) {
    logger.warn(
      { instance: instanceId, code: awsCode(err) },
      "DescribeVolumes failed; not detaching cloud volumes",
    );
    return;
  }
  for (const vol of volumes) {
    const att = vol.Attachments?.find((a) => a.InstanceId === instanceId);
    if (!att || att.DeleteOnTermination || isRootDevice(att.Device)) continue;
    try {
      await ec2.send(new DetachVolumeCommand({ VolumeId: vol.VolumeId, InstanceId: instanceId }), {
        abortSignal: signal,
      });
      logger.info(
        { instance: instanceId, volume: vol.VolumeId },
        `detached cloud volume ${vol.VolumeId} (kept)`,
      );
    } catch (err) {
      logger.warn({ instance: instanceId, volume: vol.VolumeId, code: awsCode(err) }, "DetachVolume failed");
    }
  }
}
