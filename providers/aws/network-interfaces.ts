// EXTERNAL_NETWORK_VIA_PODVM on AWS: a secondary network interface at device index 1, deleted with
// the instance, which the pod VM moves into the pod's netns for its default route (upstream's
// MultiNic path, CAA src/cloud-providers/aws/provider.go CreateInstance: CreateNetworkInterface,
// AttachNetworkInterface{DeviceIndex: 1}, ModifyNetworkInterfaceAttribute{DeleteOnTermination}).
// The elastic IP upstream adds with USE_PUBLIC_IP is not made here.
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { ProviderError } from "../errors.ts";
import type { OwnerTags, ProviderLogger } from "../types.ts";
import { toProviderError } from "./aws-errors.ts";
import { ownerTagList } from "./run-request.ts";

export interface SecondaryNicPlan {
  instanceId: string;
  subnetId: string;
  securityGroupIds: readonly string[];
  owner: OwnerTags;
}

/** Creates, attaches and marks the NIC; a NIC left unattached by a failure is deleted again. */
export async function attachSecondaryNic(
  ec2: EC2Client,
  plan: SecondaryNicPlan,
  logger: ProviderLogger,
  signal?: AbortSignal,
): Promise<string> {
  const { instanceId } = plan;
  if (!plan.subnetId)
    throw new ProviderError(
      `instance ${instanceId}: EXTERNAL_NETWORK_VIA_PODVM needs a subnet for the secondary interface (set AWS_SUBNET_ID)`,
      { code: "SubnetMissing" },
    );
  let nicId: string;
  try {
    const out = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: plan.subnetId,
        ...(plan.securityGroupIds.length > 0 ? { Groups: [...plan.securityGroupIds] } : {}),
        TagSpecifications: [
          {
            ResourceType: "network-interface",
            Tags: [{ Key: "Name", Value: `nic-${instanceId}` }, ...ownerTagList(plan.owner)],
          },
        ],
      }),
      { abortSignal: signal },
    );
    nicId = out.NetworkInterface?.NetworkInterfaceId ?? "";
  } catch (err) {
    throw toProviderError(`CreateNetworkInterface for instance ${instanceId}`, err);
  }
  if (!nicId) throw new ProviderError(`CreateNetworkInterface for instance ${instanceId}: no interface id`);
  try {
    const att = await ec2.send(
      new AttachNetworkInterfaceCommand({
        InstanceId: instanceId,
        NetworkInterfaceId: nicId,
        DeviceIndex: 1,
      }),
      { abortSignal: signal },
    );
    await ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: nicId,
        Attachment: { AttachmentId: att.AttachmentId, DeleteOnTermination: true },
      }),
      { abortSignal: signal },
    );
  } catch (err) {
    // Not attached (or not marked): the instance's termination would not take it along.
    await ec2
      .send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: nicId }))
      .catch((e: unknown) =>
        logger.warn(
          { instance: instanceId, nic: nicId, err: (e as Error).message },
          "could not delete the secondary interface",
        ),
      );
    throw toProviderError(`attaching secondary interface ${nicId} to instance ${instanceId}`, err);
  }
  logger.info(
    { instance: instanceId, nic: nicId },
    `attached secondary network interface ${nicId} to ${instanceId}`,
  );
  return nicId;
}
