// EC2 calls shared by many sandboxes within a short window (providers/cloudapi/batcher.ts): the
// instance lookups of get() and delete(), the Elastic IP and volume lookups of delete() and the
// terminations. Lookups go
// by an `instance-id` filter, which answers the instances that exist instead of failing the whole
// call for one unknown id; a termination that fails for one id is repeated per id, so that each
// caller gets its own answer.
import {
  DescribeAddressesCommand,
  DescribeVolumesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type Address,
  type EC2Client,
  type Filter,
  type Instance as Ec2Instance,
  type Volume,
} from "@aws-sdk/client-ec2";
import { Batcher, type BatchWindow } from "../cloudapi/batcher.ts";
import { asCaller } from "../cloudapi/caller.ts";
import { classify } from "./aws-errors.ts";

export interface Ec2Batches {
  /** The instance, or undefined when EC2 does not know it. */
  describe(id: string, signal?: AbortSignal): Promise<Ec2Instance | undefined>;
  /** The Elastic IPs associated with the instance. */
  addresses(id: string, signal?: AbortSignal): Promise<Address[]>;
  /** The volumes attached to the instance. */
  volumes(id: string, signal?: AbortSignal): Promise<Volume[]>;
  terminate(id: string, signal?: AbortSignal): Promise<void>;
  /** Sizes of the batches sent, by kind. */
  sent(): Record<"describe" | "addresses" | "volumes" | "terminate", number[]>;
}

/** Every instance matching the filters, all pages. */
export async function describeByFilter(
  ec2: EC2Client,
  filters: Filter[],
  signal?: AbortSignal,
): Promise<Ec2Instance[]> {
  const out: Ec2Instance[] = [];
  for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 500 }, { Filters: filters })) {
    signal?.throwIfAborted();
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
  }
  return out;
}

/** Each id's share of an answer filtered by those ids (all of it when there is one id). */
function byInstance<T>(
  ids: readonly string[],
  items: readonly T[],
  idsOf: (t: T) => readonly (string | undefined)[],
): T[][] {
  if (new Set(ids).size === 1) return ids.map(() => [...items]);
  return ids.map((id) => items.filter((item) => idsOf(item).includes(id)));
}

export function ec2Batches(ec2: EC2Client, window: BatchWindow): Ec2Batches {
  const terminateOne = async (id: string): Promise<undefined> => {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    return undefined;
  };
  const describe = new Batcher<string, Ec2Instance | undefined>(window, (ids) =>
    asCaller("batch:DescribeInstances", async () => {
      const found = await describeByFilter(ec2, [{ Name: "instance-id", Values: [...new Set(ids)] }]);
      return byInstance(ids, found, (i) => [i.InstanceId]).map((list) => list[0]);
    }),
  );
  const addresses = new Batcher<string, Address[]>(window, (ids) =>
    asCaller("batch:DescribeAddresses", async () => {
      const out = await ec2.send(
        new DescribeAddressesCommand({ Filters: [{ Name: "instance-id", Values: [...new Set(ids)] }] }),
      );
      return byInstance(ids, out.Addresses ?? [], (a) => [a.InstanceId]);
    }),
  );
  const volumes = new Batcher<string, Volume[]>(window, (ids) =>
    asCaller("batch:DescribeVolumes", async () => {
      const out = await ec2.send(
        new DescribeVolumesCommand({
          Filters: [{ Name: "attachment.instance-id", Values: [...new Set(ids)] }],
        }),
      );
      return byInstance(ids, out.Volumes ?? [], (v) => (v.Attachments ?? []).map((a) => a.InstanceId));
    }),
  );
  const terminate = new Batcher<string, undefined>(window, (ids) =>
    asCaller("batch:TerminateInstances", async () => {
      const unique = [...new Set(ids)];
      let done: Set<string>;
      try {
        const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: unique }));
        done =
          unique.length === 1
            ? new Set(unique)
            : new Set((out.TerminatingInstances ?? []).map((t) => t.InstanceId ?? ""));
      } catch (err) {
        // One unknown or malformed id fails the whole call: ask for each id alone.
        if (unique.length === 1 || classify(err) !== "final") throw err;
        done = new Set();
      }
      const alone = new Map<string, Promise<undefined | Error>>();
      for (const id of unique)
        if (!done.has(id))
          alone.set(
            id,
            terminateOne(id).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
          );
      return Promise.all(ids.map((id) => alone.get(id) ?? Promise.resolve(undefined)));
    }),
  );
  return {
    describe: (id, signal) => describe.add(id, signal),
    addresses: (id, signal) => addresses.add(id, signal),
    volumes: (id, signal) => volumes.add(id, signal),
    terminate: (id, signal) => terminate.add(id, signal),
    sent: () => ({
      describe: describe.sent,
      addresses: addresses.sent,
      volumes: volumes.sent,
      terminate: terminate.sent,
    }),
  };
}
