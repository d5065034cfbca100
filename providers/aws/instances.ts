// Reading instances back: by id (get), by owner tags (list, the leak collector) and by sandbox
// (finding the effect of a create whose answer was lost).
import {
  DescribeInstanceAttributeCommand,
  type EC2Client,
  type Filter,
  type Instance as Ec2Instance,
} from "@aws-sdk/client-ec2";
import { NotFoundError } from "../errors.ts";
import { OWNER_TAG_KEYS, type Instance, type OwnerTags } from "../types.ts";
import { toProviderError } from "./aws-errors.ts";
import { describeByFilter, type Ec2Batches } from "./batches.ts";
import { ownerTagList } from "./run-request.ts";

/** States of an instance that still exists for its owner (list). */
export const LIVE_STATES = ["pending", "running", "stopping", "stopped"];
const GONE_STATES = new Set(["shutting-down", "terminated"]);

export function isGone(i: Ec2Instance): boolean {
  return GONE_STATES.has(i.State?.Name ?? "");
}

/** Private IPs in device-index order (upstream getIPs), else the primary private IP. */
export function privateIps(i: Ec2Instance): string[] {
  const nics = [...(i.NetworkInterfaces ?? [])].sort(
    (a, b) => (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0),
  );
  const ips = nics.map((n) => n.PrivateIpAddress ?? "");
  if (ips.length === 0 && i.PrivateIpAddress) ips.push(i.PrivateIpAddress);
  return ips;
}

export function publicIp(i: Ec2Instance): string | undefined {
  const nic0 = (i.NetworkInterfaces ?? []).find((n) => (n.Attachment?.DeviceIndex ?? 0) === 0);
  return nic0?.Association?.PublicIp || i.PublicIpAddress || undefined;
}

export function tagsOf(i: Ec2Instance): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? "";
  return out;
}

/** Upstream: with a public IP it replaces IPs[0]. */
export function toInstance(i: Ec2Instance, usePublicIp: boolean): Instance {
  const tags = tagsOf(i);
  const ips = privateIps(i).filter((ip) => ip !== "" && ip !== "0.0.0.0");
  const pub = usePublicIp ? publicIp(i) : undefined;
  if (pub) ips.splice(0, 1, pub);
  return {
    id: i.InstanceId ?? "",
    name: tags.Name ?? "",
    ips,
    tags,
    ...(i.LaunchTime ? { createdAt: i.LaunchTime } : {}),
  };
}

/** One instance by id, looked up in a batch with other sandboxes' lookups. */
export async function describeInstance(
  batches: Ec2Batches,
  id: string,
  signal?: AbortSignal,
): Promise<Ec2Instance> {
  let inst;
  try {
    inst = await batches.describe(id, signal);
  } catch (err) {
    throw toProviderError(`DescribeInstances ${id}`, err);
  }
  if (!inst) throw new NotFoundError(`instance ${id} not found`, { code: "InvalidInstanceID.NotFound" });
  if (isGone(inst))
    throw new NotFoundError(`instance ${id} is ${inst.State?.Name}`, {
      code: `Instance.${inst.State?.Name}`,
    });
  return inst;
}

async function describeAll(ec2: EC2Client, filters: Filter[], signal?: AbortSignal): Promise<Ec2Instance[]> {
  try {
    return await describeByFilter(ec2, filters, signal);
  } catch (err) {
    throw toProviderError("DescribeInstances by tags", err);
  }
}

/**
 * Live instances carrying every given owner tag. Always restricted to instances that carry a
 * sandbox tag, so that an empty filter never lists instances this daemon did not create.
 */
export async function listByOwner(
  ec2: EC2Client,
  owner: Partial<OwnerTags>,
  signal?: AbortSignal,
): Promise<Ec2Instance[]> {
  const filters: Filter[] = ownerTagList(owner).map((t) => ({
    Name: `tag:${t.Key}`,
    Values: [t.Value ?? ""],
  }));
  filters.push({ Name: "tag-key", Values: [OWNER_TAG_KEYS.sandboxId] });
  filters.push({ Name: "instance-state-name", Values: LIVE_STATES });
  return describeAll(ec2, filters, signal);
}

/** The pending or running instance of a sandbox, if one exists (the oldest if several). */
export async function findBySandbox(
  ec2: EC2Client,
  sandboxId: string,
  signal?: AbortSignal,
): Promise<Ec2Instance | undefined> {
  const found = await describeAll(
    ec2,
    [
      { Name: `tag:${OWNER_TAG_KEYS.sandboxId}`, Values: [sandboxId] },
      { Name: "instance-state-name", Values: ["pending", "running"] },
    ],
    signal,
  );
  found.sort((a, b) => (a.LaunchTime?.getTime() ?? 0) - (b.LaunchTime?.getTime() ?? 0));
  return found[0];
}

/** The user-data an instance was launched with, decoded (the conformance suite reads it back). */
export async function readInstanceUserData(
  ec2: EC2Client,
  id: string,
  signal?: AbortSignal,
): Promise<string> {
  let out;
  try {
    out = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: "userData" }), {
      abortSignal: signal,
    });
  } catch (err) {
    throw toProviderError(`DescribeInstanceAttribute ${id} userData`, err);
  }
  return Buffer.from(out.UserData?.Value ?? "", "base64").toString("utf8");
}
