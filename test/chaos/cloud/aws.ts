// The AWS target: `caa serve aws` against moto behind the fault proxy, which hits the configured
// share of EC2 calls with throttling (RequestLimitExceeded), a plain 503, a dropped connection
// before or after moto acted, a slow answer, and — on RunInstances — InsufficientInstanceCapacity.
// The VPC's subnet is 127.64.0.0/20, so each instance's private address is on this host's
// loopback and the VM host plays it there.
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
} from "@aws-sdk/client-ec2";
import { OWNER_TAG_KEYS } from "../../../providers/types.ts";
import { startFaultProxy, type Fault } from "../../helpers/fault-proxy.ts";
import { startMoto } from "../../helpers/moto.ts";
import { awsEnv, motoClient, REGION, seedWorld } from "../../helpers/moto-fixtures.ts";
import type { Leftover } from "../target.ts";
import { CLUSTER, CloudTarget, type CloudFaultOptions, type CloudSide } from "./cloud-target.ts";

const FAULTS: readonly Fault[] = ["throttle", "unavailable", "drop-before", "drop-after", "slow", "capacity"];
const LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"];

async function clusterInstances(ec2: EC2Client, states: string[]): Promise<Instance[]> {
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${OWNER_TAG_KEYS.cluster}`, Values: [CLUSTER] },
        { Name: "instance-state-name", Values: states },
      ],
    }),
  );
  return out.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
}

/** A VPC whose subnet's addresses are loopback ones, with its own security group. */
async function loopbackNetwork(ec2: EC2Client): Promise<{ subnetId: string; securityGroupId: string }> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "127.64.0.0/16" }));
  const vpcId = vpc.Vpc?.VpcId ?? "";
  const subnet = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "127.64.0.0/20", AvailabilityZone: `${REGION}a` }),
  );
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: "chaos-podvm", Description: "chaos pod VMs", VpcId: vpcId }),
  );
  return { subnetId: subnet.Subnet?.SubnetId ?? "", securityGroupId: sg.GroupId ?? "" };
}

// Capacity, RequestLimitExceeded, a 503 without an EC2 body, a dropped connection, a slow answer
// (the capacity fallback sums a create that ran out of instance types up as "no capacity").
export const AWS_FAULT_ERROR =
  /AWS (InsufficientInstanceCapacity|RequestLimitExceeded|HTTP503|E[A-Z]+|TimeoutError)\b|no capacity for any fitting instance type/;

async function startAws(_dir: string, faults: Required<CloudFaultOptions>): Promise<CloudSide> {
  const moto = await startMoto();
  const ec2 = motoClient(moto.url);
  try {
    const world = { ...(await seedWorld(ec2)), ...(await loopbackNetwork(ec2)) };
    const proxy = await startFaultProxy(moto.url, {
      rate: faults.rate,
      seed: faults.seed,
      faults: FAULTS,
      only: { capacity: ["RunInstances"] },
      slowMs: faults.slowMs,
    });
    return {
      env: {
        CLOUD_PROVIDER: "aws",
        ...awsEnv(proxy.url, world, {
          PODVM_INSTANCE_TYPE: "m6a.large",
          PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge,m6a.2xlarge",
        }),
      },
      vms: async () =>
        (await clusterInstances(ec2, ["pending", "running"])).map((i) => ({
          id: i.InstanceId ?? "",
          ip: i.PrivateIpAddress ?? "",
          userData: async () => {
            const attr = await ec2.send(
              new DescribeInstanceAttributeCommand({ InstanceId: i.InstanceId, Attribute: "userData" }),
            );
            const b64 = attr.UserData?.Value;
            return b64 ? Buffer.from(b64, "base64").toString("utf8") : undefined;
          },
        })),
      resources: async (): Promise<Leftover[]> =>
        (await clusterInstances(ec2, LIVE_STATES)).map((i) => {
          const tags = new Map((i.Tags ?? []).map((t) => [t.Key, t.Value]));
          return {
            kind: "instance",
            what: `${i.InstanceId} (${i.State?.Name}, sandbox ${tags.get(OWNER_TAG_KEYS.sandboxId)})`,
          };
        }),
      injected: () => proxy.injected(),
      async stop() {
        ec2.destroy();
        await proxy.stop();
        await moto.stop();
      },
    };
  } catch (err) {
    ec2.destroy();
    await moto.stop();
    throw err;
  }
}

/** `caa serve aws` against moto with `rate` of EC2 calls faulted. */
export function motoTarget(faults: CloudFaultOptions = {}): CloudTarget {
  return new CloudTarget("moto", startAws, AWS_FAULT_ERROR, faults);
}
