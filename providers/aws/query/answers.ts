// EC2's XML answers as the SDK's output objects, for the fields this provider reads (named in
// each reader; test/unit/aws-lean-calls.test.ts holds them against the SDK's own deserialiser on
// moto's answers). Code that needs another field of a served call adds it here, or its call
// goes through the SDK (served.ts). Failures become the SDK's EC2ServiceException, named by
// EC2's error code, so that aws-errors.ts classifies them as before.
import {
  EC2ServiceException,
  type Instance,
  type InstanceNetworkInterface,
  type InstanceState,
  type InstanceStateChange,
  type RunInstancesCommandOutput,
  type Tag,
  type TerminateInstancesCommandOutput,
} from "@aws-sdk/client-ec2";
import { child, items, parseXml, textOf, type XmlNode } from "./xml.ts";

type Output<T> = Omit<T, "$metadata">;

function int(node: XmlNode | undefined, name: string): number | undefined {
  const t = textOf(node, name);
  return t === undefined || t === "" ? undefined : Number(t);
}

function state(node: XmlNode | undefined): InstanceState | undefined {
  if (!node) return undefined;
  return { Code: int(node, "code"), Name: textOf(node, "name") as InstanceState["Name"] };
}

function tags(node: XmlNode): Tag[] | undefined {
  if (!child(node, "tagSet")) return undefined;
  return items(node, "tagSet").map((t) => ({ Key: textOf(t, "key"), Value: textOf(t, "value") }));
}

function networkInterface(n: XmlNode): InstanceNetworkInterface {
  const attachment = child(n, "attachment");
  const association = child(n, "association");
  return {
    NetworkInterfaceId: textOf(n, "networkInterfaceId"),
    SubnetId: textOf(n, "subnetId"),
    PrivateIpAddress: textOf(n, "privateIpAddress"),
    ...(attachment && {
      Attachment: {
        AttachmentId: textOf(attachment, "attachmentId"),
        DeviceIndex: int(attachment, "deviceIndex"),
        Status: textOf(attachment, "status") as never,
      },
    }),
    ...(association && { Association: { PublicIp: textOf(association, "publicIp") } }),
  };
}

/** InstanceId, ImageId, InstanceType, KeyName, State, LaunchTime, PrivateIpAddress, PublicIpAddress, SubnetId, VpcId, Placement.AvailabilityZone, Tags, NetworkInterfaces. */
export function instance(n: XmlNode): Instance {
  const launch = textOf(n, "launchTime");
  const placement = child(n, "placement");
  const out: Instance = {
    InstanceId: textOf(n, "instanceId"),
    ImageId: textOf(n, "imageId"),
    InstanceType: textOf(n, "instanceType") as Instance["InstanceType"],
    KeyName: textOf(n, "keyName"),
    State: state(child(n, "instanceState")),
    LaunchTime: launch ? new Date(launch) : undefined,
    PrivateIpAddress: textOf(n, "privateIpAddress"),
    PublicIpAddress: textOf(n, "ipAddress"),
    SubnetId: textOf(n, "subnetId"),
    VpcId: textOf(n, "vpcId"),
    Placement: placement && { AvailabilityZone: textOf(placement, "availabilityZone") },
    Tags: tags(n),
    NetworkInterfaces: child(n, "networkInterfaceSet")
      ? items(n, "networkInterfaceSet").map(networkInterface)
      : undefined,
  };
  for (const k of Object.keys(out) as (keyof Instance)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** ReservationId, OwnerId, Instances. */
export function runInstancesOutput(root: XmlNode): Output<RunInstancesCommandOutput> {
  return {
    ReservationId: textOf(root, "reservationId"),
    OwnerId: textOf(root, "ownerId"),
    Instances: items(root, "instancesSet").map(instance),
  };
}

/** TerminatingInstances: InstanceId, CurrentState, PreviousState. */
export function terminateInstancesOutput(root: XmlNode): Output<TerminateInstancesCommandOutput> {
  return {
    TerminatingInstances: items(root, "instancesSet").map((i): InstanceStateChange => ({
      InstanceId: textOf(i, "instanceId"),
      CurrentState: state(child(i, "currentState")),
      PreviousState: state(child(i, "previousState")),
    })),
  };
}

/** The answer's root element. */
export function rootOf(body: string): XmlNode {
  return parseXml(body).children[0];
}

/**
 * A failed answer as the SDK reports it: EC2's code as the name (and Code), its message, the
 * HTTP status and request id in $metadata. A body that is not EC2's error XML (a proxy's 503)
 * leaves the name Unknown, so the code is taken from the status (aws-errors.ts).
 */
export function ec2Failure(status: number, body: string): EC2ServiceException {
  let code: string | undefined;
  let message: string | undefined;
  let requestId: string | undefined;
  try {
    const root = rootOf(body);
    const error = child(child(root, "Errors"), "Error");
    code = textOf(error, "Code");
    message = textOf(error, "Message");
    requestId = textOf(root, "RequestID") ?? textOf(root, "RequestId");
  } catch {
    // not XML: the status says what happened
  }
  const err = new EC2ServiceException({
    name: code || "Unknown",
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, requestId, attempts: 1, totalRetryDelay: 0 },
    message: message ?? (code ? code : `HTTP ${status}`),
  });
  if (code) Object.assign(err, { Code: code });
  return err;
}
