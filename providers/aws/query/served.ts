// The EC2 calls the lean path serves: the per-sandbox hot ones of a create and a delete. The
// input shapes name exactly the members run-request.ts and batches.ts send (an input with any
// other member goes through the SDK); the query names are the model's (the SDK serialises
// TagSpecifications as TagSpecification.N, NetworkInterfaces[].Groups as SecurityGroupId.N).
import { encodeParams, formBody, list, scalar, struct, type Shape } from "./params.ts";
import { runInstancesOutput, terminateInstancesOutput } from "./answers.ts";
import type { XmlNode } from "./xml.ts";

/** The EC2 API version the SDK sends (and moto and EC2 answer). */
export const API_VERSION = "2016-11-15";

export interface ServedCall {
  action: string;
  input: Shape;
  /** Whether this input can be sent as is (else the SDK sends it). */
  accepts?(input: Record<string, unknown>): boolean;
  read(root: XmlNode): object;
}

const tag = struct({ Key: scalar, Value: scalar });

const runInstancesInput = struct({
  MinCount: scalar,
  MaxCount: scalar,
  ClientToken: scalar,
  UserData: scalar,
  ImageId: scalar,
  InstanceType: scalar,
  KeyName: scalar,
  SubnetId: scalar,
  SecurityGroupIds: ["SecurityGroupId", list(scalar)],
  TagSpecifications: ["TagSpecification", list(struct({ ResourceType: scalar, Tags: ["Tag", list(tag)] }))],
  MetadataOptions: struct({ HttpTokens: scalar, HttpEndpoint: scalar, HttpPutResponseHopLimit: scalar }),
  BlockDeviceMappings: [
    "BlockDeviceMapping",
    list(
      struct({
        DeviceName: scalar,
        Ebs: struct({
          VolumeType: scalar,
          Encrypted: scalar,
          DeleteOnTermination: scalar,
          VolumeSize: scalar,
        }),
      }),
    ),
  ],
  LaunchTemplate: struct({ LaunchTemplateName: scalar }),
  NetworkInterfaces: [
    "NetworkInterface",
    list(
      struct({
        AssociatePublicIpAddress: scalar,
        DeviceIndex: scalar,
        SubnetId: scalar,
        Groups: ["SecurityGroupId", list(scalar)],
        DeleteOnTermination: scalar,
      }),
    ),
  ],
  CpuOptions: struct({ AmdSevSnp: scalar }),
});

/** By the SDK's command name. */
export const SERVED_CALLS: Readonly<Record<string, ServedCall>> = {
  RunInstancesCommand: {
    action: "RunInstances",
    input: runInstancesInput,
    // Without a ClientToken the SDK makes one up (its idempotency token): leave that to it.
    accepts: (input) => typeof input.ClientToken === "string" && input.ClientToken !== "",
    read: runInstancesOutput,
  },
  TerminateInstancesCommand: {
    action: "TerminateInstances",
    input: struct({ InstanceIds: ["InstanceId", list(scalar)] }),
    read: terminateInstancesOutput,
  },
};

/** The Query form of one call of the SDK command `commandName`, or undefined if the SDK must send it. */
export function queryForm(
  commandName: string,
  input: object,
): { call: ServedCall; body: string } | undefined {
  const call = SERVED_CALLS[commandName];
  if (!call || !(call.accepts?.(input as Record<string, unknown>) ?? true)) return undefined;
  const params = encodeParams(call.input, input);
  return params && { call, body: formBody(call.action, API_VERSION, params) };
}
