// What AWS tests set up in moto: a pod-VM AMI, the default VPC's subnet and security group, and
// the env the AWS provider reads. Also a direct client for checking moto's state.
import {
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RegisterImageCommand,
  type Instance,
} from "@aws-sdk/client-ec2";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
import { MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY } from "./test-secrets.ts";

export const REGION = "us-east-1";

/** A client straight to moto (no proxy, no retries) for setting up and checking state. */
export function motoClient(url: string): EC2Client {
  return new EC2Client({
    endpoint: url,
    region: REGION,
    credentials: { accessKeyId: MOTO_ACCESS_KEY_ID, secretAccessKey: MOTO_SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
}

export interface MotoWorld {
  amiId: string;
  subnetId: string;
  securityGroupId: string;
}

/** Register a UEFI pod-VM AMI and pick the default subnet of us-east-1a and the default SG. */
export async function seedWorld(ec2: EC2Client): Promise<MotoWorld> {
  const img = await ec2.send(
    new RegisterImageCommand({
      Name: `podvm-${Date.now()}`,
      RootDeviceName: "/dev/xvda",
      BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { VolumeSize: 8 } }],
      BootMode: "uefi",
      Architecture: "x86_64",
      VirtualizationType: "hvm",
    }),
  );
  const subnets = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: "default-for-az", Values: ["true"] }] }),
  );
  const subnet = subnets.Subnets?.find((s) => s.AvailabilityZone === `${REGION}a`) ?? subnets.Subnets?.[0];
  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: ["default"] }] }),
  );
  return {
    amiId: img.ImageId ?? "",
    subnetId: subnet?.SubnetId ?? "",
    securityGroupId: groups.SecurityGroups?.[0]?.GroupId ?? "",
  };
}

/** The env the provider reads: static test keys, the endpoint, the world, IMDS off. */
export function awsEnv(
  endpoint: string,
  world: MotoWorld,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: MOTO_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: MOTO_SECRET_ACCESS_KEY,
    AWS_REGION: REGION,
    AWS_ENDPOINT: endpoint,
    AWS_EC2_METADATA_DISABLED: "true",
    PODVM_AMI_ID: world.amiId,
    AWS_SUBNET_ID: world.subnetId,
    AWS_SG_IDS: world.securityGroupId,
    ...extra,
  };
}

/** Instances in moto carrying this sandbox tag, in the given states (default: not terminated). */
export async function instancesOfSandbox(
  ec2: EC2Client,
  sandboxId: string,
  states = ["pending", "running", "stopping", "stopped", "shutting-down"],
): Promise<Instance[]> {
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${OWNER_TAG_KEYS.sandboxId}`, Values: [sandboxId] },
        { Name: "instance-state-name", Values: states },
      ],
    }),
  );
  return out.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
}
