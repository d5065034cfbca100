// What start-up reads from EC2: the AMI's root device and size (DescribeImages) and the sizes
// and SEV-SNP support of the allowed instance types (DescribeInstanceTypes); docs/upstream-compat.md §7.
import {
  DescribeImagesCommand,
  DescribeInstanceTypesCommand,
  type EC2Client,
  type InstanceTypeInfo,
  type _InstanceType,
} from "@aws-sdk/client-ec2";
import { InvalidConfigError } from "../errors.ts";
import type { InstanceType } from "../types.ts";
import { awsCode, toProviderError } from "./aws-errors.ts";

export interface ImageInfo {
  id: string;
  rootDeviceName: string;
  /** Size of the root snapshot in GiB, when the image says. */
  sizeGiB: number | undefined;
}

export interface TypeInfo extends InstanceType {
  /** ProcessorInfo.SupportedFeatures includes `amd-sev-snp`. */
  sevSnp: boolean;
}

/** `label` names the setting the id came from, e.g. "PODVM_AMI_ID". */
export async function describeImage(
  ec2: EC2Client,
  imageId: string,
  label: string,
  signal?: AbortSignal,
): Promise<ImageInfo> {
  let out;
  try {
    out = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }), { abortSignal: signal });
  } catch (err) {
    const code = awsCode(err);
    // EC2's own text after the code, then ": not found": the e2e suite expects
    // `InvalidAMIID.NotFound: The image id '[<id>]' does not exist: not found` in the pod's events
    // (CAA src/cloud-api-adaptor/test/e2e/aws_test.go TestAwsCreatePeerPodContainerWithInvalidAlternateImage).
    if (code.startsWith("InvalidAMIID.")) {
      const text = err instanceof Error && err.message ? `: ${err.message}` : "";
      throw new InvalidConfigError(`${label} ${imageId}: ${code}${text}: not found`, { code, cause: err });
    }
    throw toProviderError(`DescribeImages ${imageId}`, err);
  }
  const image = out.Images?.[0];
  if (!image) throw new InvalidConfigError(`${label} ${imageId} not found: no image returned`);
  const root = image.RootDeviceName;
  if (!root) throw new InvalidConfigError(`${label} ${imageId}: the image has no root device name`);
  const mappings = image.BlockDeviceMappings ?? [];
  const rootMapping = mappings.find((m) => m.DeviceName === root) ?? mappings[0];
  return { id: imageId, rootDeviceName: root, sizeGiB: rootMapping?.Ebs?.VolumeSize };
}

function typeInfoOf(t: InstanceTypeInfo): TypeInfo {
  return {
    name: t.InstanceType ?? "",
    vcpus: t.VCpuInfo?.DefaultVCpus ?? 0,
    memoryMiB: t.MemoryInfo?.SizeInMiB ?? 0,
    gpus: (t.GpuInfo?.Gpus ?? []).reduce((sum, g) => sum + (g.Count ?? 0), 0),
    sevSnp: (t.ProcessorInfo?.SupportedFeatures ?? []).includes("amd-sev-snp"),
  };
}

/** Sizes of the named types; any unknown name is an InvalidConfigError naming it. */
export async function describeInstanceTypes(
  ec2: EC2Client,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, TypeInfo>> {
  const found = new Map<string, TypeInfo>();
  const unique = [...new Set(names)];
  for (let i = 0; i < unique.length; i += 100) {
    const batch = unique.slice(i, i + 100);
    let nextToken: string | undefined;
    do {
      let out;
      try {
        out = await ec2.send(
          new DescribeInstanceTypesCommand({
            InstanceTypes: batch as _InstanceType[],
            NextToken: nextToken,
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        const code = awsCode(err);
        if (code.startsWith("InvalidInstanceType"))
          throw new InvalidConfigError(
            `instance type not found (PODVM_INSTANCE_TYPE / PODVM_INSTANCE_TYPES ${batch.join(",")}): AWS ${code}: ${(err as Error).message}`,
            { code, cause: err },
          );
        throw toProviderError("DescribeInstanceTypes", err);
      }
      for (const t of out.InstanceTypes ?? []) if (t.InstanceType) found.set(t.InstanceType, typeInfoOf(t));
      nextToken = out.NextToken;
    } while (nextToken);
  }
  const missing = unique.filter((n) => !found.has(n));
  if (missing.length > 0)
    throw new InvalidConfigError(`instance type not found: ${missing.join(", ")} (InvalidInstanceType)`, {
      code: "InvalidInstanceType",
    });
  return found;
}
