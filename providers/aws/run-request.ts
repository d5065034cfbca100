// The RunInstances request, built as upstream does (CAA aws/provider.go CreateInstance;
// docs/upstream-compat.md §7) plus what upstream misses: IMDSv2 required (unless AWS_REQUIRE_IMDSV2=false), an encrypted gp3 root volume
// deleted with the instance, owner tags on the instance and its volumes, and a ClientToken
// derived from the sandbox so that a repeated create never makes a second VM.
import { createHash } from "node:crypto";
import type { RunInstancesCommandInput, Tag, _InstanceType } from "@aws-sdk/client-ec2";
import { OWNER_TAG_KEYS, type OwnerTags } from "../types.ts";

/** EC2 rejects user data above 16 KiB before base64 encoding. */
export const MAX_USER_DATA_BYTES = 16 * 1024;
const MAX_INT32 = 2 ** 31 - 1;

export interface RunPlan {
  name: string;
  userData: string;
  owner: OwnerTags;
  /** TAGS */
  tags: Readonly<Record<string, string>>;
  clientToken: string;
  /** Root device of the AMI; no block device mapping without it. */
  rootDeviceName: string | undefined;
  /** GiB; 0 leaves the size to the image. */
  rootVolumeSize: number;
  /** Launch-template mode: only the template, user data, tags and root volume are sent. */
  launchTemplateName?: string;
  imageId: string;
  instanceType: string;
  subnetId: string;
  securityGroupIds: readonly string[];
  keyName: string;
  usePublicIp: boolean;
  sevSnp: boolean;
  /** AWS_REQUIRE_IMDSV2: false sends no MetadataOptions, as upstream. */
  requireImdsv2: boolean;
}

/** Deterministic per sandbox, instance type (or template) and generation; ≤ 64 ASCII chars. */
export function clientToken(sandboxId: string, variant: string, generation: number): string {
  const digest = createHash("sha256").update(`${sandboxId}\n${variant}\n${generation}`).digest("hex");
  return `peerpod-${digest.slice(0, 48)}`;
}

/** Upstream: ROOT_VOLUME_SIZE, raised to the image's size if smaller, capped at int32. */
export function effectiveRootVolumeSize(configured: number, imageSizeGiB: number | undefined): number {
  if (configured <= 0) return 0;
  return Math.min(Math.max(configured, imageSizeGiB ?? 0), MAX_INT32);
}

export function ownerTagList(owner: Partial<OwnerTags>): Tag[] {
  const out: Tag[] = [];
  for (const [field, key] of Object.entries(OWNER_TAG_KEYS) as [keyof OwnerTags, string][]) {
    const value = owner[field];
    if (value !== undefined) out.push({ Key: key, Value: value });
  }
  return out;
}

/**
 * Name, then TAGS, then owner tags, each key once (EC2 rejects duplicates). TAGS can name
 * neither the VM nor its owner: the Name tag and the owner tags win.
 */
export function instanceTags(plan: Pick<RunPlan, "name" | "tags" | "owner">): Tag[] {
  const byKey = new Map<string, string>([["Name", plan.name]]);
  for (const [k, v] of Object.entries(plan.tags)) if (k !== "Name") byKey.set(k, v);
  for (const t of ownerTagList(plan.owner)) byKey.set(t.Key ?? "", t.Value ?? "");
  return [...byKey].map(([Key, Value]) => ({ Key, Value }));
}

export function buildRunInstancesInput(plan: RunPlan): RunInstancesCommandInput {
  const tags = instanceTags(plan);
  const input: RunInstancesCommandInput = {
    MinCount: 1,
    MaxCount: 1,
    ClientToken: plan.clientToken,
    UserData: Buffer.from(plan.userData, "utf8").toString("base64"),
    TagSpecifications: [
      { ResourceType: "instance", Tags: tags },
      { ResourceType: "volume", Tags: tags },
    ],
  };
  // IMDSv2 only; hop limit 1 keeps the token (and with it the user data, which carries the VM's
  // TLS key) out of reach of the pod's containers. Off: the account's defaults, as upstream.
  if (plan.requireImdsv2)
    input.MetadataOptions = { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 1 };
  if (plan.rootDeviceName && (plan.rootVolumeSize > 0 || !plan.launchTemplateName)) {
    input.BlockDeviceMappings = [
      {
        DeviceName: plan.rootDeviceName,
        Ebs: {
          VolumeType: "gp3",
          Encrypted: true,
          DeleteOnTermination: true,
          ...(plan.rootVolumeSize > 0 ? { VolumeSize: plan.rootVolumeSize } : {}),
        },
      },
    ];
  }
  if (plan.launchTemplateName) {
    input.LaunchTemplate = { LaunchTemplateName: plan.launchTemplateName };
    return input;
  }
  input.ImageId = plan.imageId;
  input.InstanceType = plan.instanceType as _InstanceType;
  if (plan.keyName) input.KeyName = plan.keyName;
  if (plan.usePublicIp) {
    input.NetworkInterfaces = [
      {
        AssociatePublicIpAddress: true,
        DeviceIndex: 0,
        ...(plan.subnetId ? { SubnetId: plan.subnetId } : {}),
        ...(plan.securityGroupIds.length > 0 ? { Groups: [...plan.securityGroupIds] } : {}),
        DeleteOnTermination: true,
      },
    ];
  } else {
    if (plan.subnetId) input.SubnetId = plan.subnetId;
    if (plan.securityGroupIds.length > 0) input.SecurityGroupIds = [...plan.securityGroupIds];
  }
  // SEV-SNP needs an SNP-capable type and a UEFI AMI (upstream: on unless DISABLECVM).
  if (plan.sevSnp) input.CpuOptions = { AmdSevSnp: "enabled" };
  return input;
}
