// A stand-in for EC2 inside the SDK's middleware stack, for unit tests of request shapes that
// moto does not check. It sits below the provider's retry middleware, records every attempt's
// command input and answers from small handlers; serialization and HTTP are skipped.
import { EC2ServiceException, type EC2Client, type Instance as Ec2Instance } from "@aws-sdk/client-ec2";
import type { HandlerExecutionContext } from "@smithy/types";

export interface StubCall {
  op: string;
  input: Record<string, unknown>;
}

export type StubHandler = (input: Record<string, unknown>, n: number) => object | Promise<object>;

const TYPES: Record<string, { vcpus: number; mem: number; snp: boolean; gpus?: number }> = {
  "c6a.large": { vcpus: 2, mem: 4096, snp: true },
  "t3.medium": { vcpus: 2, mem: 4096, snp: false },
  "m6a.large": { vcpus: 2, mem: 8192, snp: true },
  "m5.xlarge": { vcpus: 4, mem: 16384, snp: false },
  "m6a.xlarge": { vcpus: 4, mem: 16384, snp: true },
  "m6a.2xlarge": { vcpus: 8, mem: 32768, snp: true },
};

/** An EC2 error as the SDK throws it. */
export function ec2Error(code: string, status = 400, message = `stub ${code}`): Error {
  return Object.assign(
    new EC2ServiceException({
      name: code,
      $fault: status >= 500 ? "server" : "client",
      $metadata: { httpStatusCode: status },
      message,
    }),
    { Code: code },
  );
}

/** A dropped connection as the SDK's node handler reports it. */
export function connectionReset(): Error {
  return Object.assign(new Error("socket hang up"), { name: "TimeoutError", code: "ECONNRESET" });
}

export class Ec2Stub {
  readonly calls: StubCall[] = [];
  readonly instances: Ec2Instance[] = [];
  readonly handlers: Record<string, StubHandler> = {};
  /** Root snapshot size of the AMI in GiB. */
  imageSizeGiB = 8;
  readonly #counts: Record<string, number> = {};

  /** Calls of one operation, in order. */
  of(op: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.input);
  }

  install(client: EC2Client): void {
    client.middlewareStack.add(
      (_next, context: HandlerExecutionContext) => async (args) => {
        const op = (context.commandName ?? "").replace(/Command$/, "");
        const input = structuredClone(args.input as Record<string, unknown>);
        this.calls.push({ op, input });
        const n = (this.#counts[op] = (this.#counts[op] ?? 0) + 1);
        const handler = this.handlers[op] ?? ((i: Record<string, unknown>) => this.#default(op, i));
        const output = await handler(input, n);
        return { output: { $metadata: {}, ...output } as never, response: undefined };
      },
      { step: "initialize", priority: "low", name: "ec2Stub" },
    );
  }

  /** What EC2 would answer for a launched instance. */
  launch(input: Record<string, unknown>): Ec2Instance {
    const n = this.instances.length + 1;
    const spec = input.TagSpecifications as {
      ResourceType: string;
      Tags: { Key: string; Value: string }[];
    }[];
    const inst: Ec2Instance = {
      InstanceId: `i-${n.toString(16).padStart(17, "0")}`,
      InstanceType: input.InstanceType as never,
      State: { Name: "pending", Code: 0 },
      PrivateIpAddress: `10.0.0.${n}`,
      NetworkInterfaces: [
        {
          PrivateIpAddress: `10.0.0.${n}`,
          Attachment: { DeviceIndex: 0 },
          ...(input.NetworkInterfaces ? { Association: { PublicIp: `203.0.113.${n}` } } : {}),
        },
      ],
      Tags: spec?.find((s) => s.ResourceType === "instance")?.Tags ?? [],
      LaunchTime: new Date(),
    };
    this.instances.push(inst);
    return inst;
  }

  #default(op: string, input: Record<string, unknown>): object {
    switch (op) {
      case "DescribeImages":
        return {
          Images: [
            {
              ImageId: (input.ImageIds as string[])[0],
              RootDeviceName: "/dev/xvda",
              BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { VolumeSize: this.imageSizeGiB } }],
            },
          ],
        };
      case "DescribeInstanceTypes": {
        const names = input.InstanceTypes as string[];
        const unknown = names.filter((n) => !TYPES[n]);
        if (unknown.length > 0)
          throw ec2Error(
            "InvalidInstanceType",
            400,
            `The following supplied instance types do not exist: [${unknown.join(", ")}]`,
          );
        return {
          InstanceTypes: names.map((n) => ({
            InstanceType: n,
            VCpuInfo: { DefaultVCpus: TYPES[n].vcpus },
            MemoryInfo: { SizeInMiB: TYPES[n].mem },
            ProcessorInfo: { SupportedFeatures: TYPES[n].snp ? ["amd-sev-snp"] : [] },
          })),
        };
      }
      case "RunInstances":
        return { Instances: [this.launch(input)] };
      case "DescribeInstances":
        return {
          Reservations: [
            { Instances: this.#match(input).map((i) => ({ ...i, State: { Name: "running" } })) },
          ],
        };
      case "DescribeAddresses":
        return { Addresses: [] };
      default:
        return {};
    }
  }

  #match(input: Record<string, unknown>): Ec2Instance[] {
    const ids = input.InstanceIds as string[] | undefined;
    const filters = (input.Filters as { Name: string; Values: string[] }[] | undefined) ?? [];
    return this.instances.filter((i) => {
      if (ids && !ids.includes(i.InstanceId ?? "")) return false;
      return filters.every((f) => {
        if (!f.Name.startsWith("tag:")) return true;
        const tag = i.Tags?.find((t) => t.Key === f.Name.slice(4));
        return tag !== undefined && f.Values.includes(tag.Value ?? "");
      });
    });
  }
}
