// DeleteInstance as upstream (docs/upstream-compat.md §7): release the instance's Elastic IPs (failures
// only logged), detach the pod's cloud volumes (volumes.ts), then TerminateInstances without waiting.
// An instance that does not exist, or is already shutting down or terminated, counts as deleted.
// The address and volume lookups and the termination share one EC2 call with other sandboxes'
// deletes in the same window (batches.ts).
import { DisassociateAddressCommand, ReleaseAddressCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { NotFoundError } from "../errors.ts";
import type { ProviderLogger } from "../types.ts";
import { awsCode, toProviderError } from "./aws-errors.ts";
import type { Ec2Batches } from "./batches.ts";
import { describeInstance } from "./instances.ts";
import { detachVolumes } from "./volumes.ts";

export async function deleteInstance(
  ec2: EC2Client,
  batches: Ec2Batches,
  id: string,
  logger: ProviderLogger,
  signal?: AbortSignal,
): Promise<void> {
  await releaseAddresses(ec2, batches, id, logger, signal);
  await detachVolumes(ec2, batches, id, logger, signal);
  logger.info({ instance: id }, `Deleting instance ${id}`);
  try {
    await batches.terminate(id, signal);
  } catch (err) {
    if (await isAlreadyGone(batches, id, signal)) return;
    throw toProviderError(`TerminateInstances ${id}`, err);
  }
  logger.info({ instance: id }, `Deleted instance ${id}`);
}

/**
 * After a failed terminate: is the instance gone anyway? (EC2 answers InvalidInstanceID.NotFound
 * for an unknown id; moto also fails a repeated terminate of an instance whose NIC is gone.)
 */
async function isAlreadyGone(batches: Ec2Batches, id: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await describeInstance(batches, id, signal);
    return false;
  } catch (err) {
    return err instanceof NotFoundError;
  }
}

async function releaseAddresses(
  ec2: EC2Client,
  batches: Ec2Batches,
  id: string,
  logger: ProviderLogger,
  signal?: AbortSignal,
): Promise<void> {
  let addresses;
  try {
    addresses = await batches.addresses(id, signal);
  } catch (err) {
    logger.warn({ instance: id, code: awsCode(err) }, "DescribeAddresses failed; not releasing Elastic IPs");
    return;
  }
  for (const a of addresses) {
    try {
      if (a.AssociationId)
        await ec2.send(new DisassociateAddressCommand({ AssociationId: a.AssociationId }), {
          abortSignal: signal,
        });
      if (a.AllocationId)
        await ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId }), { abortSignal: signal });
      logger.info({ instance: id, allocation: a.AllocationId }, "released Elastic IP");
    } catch (err) {
      logger.warn(
        { instance: id, allocation: a.AllocationId, code: awsCode(err) },
        "releasing Elastic IP failed",
      );
    }
  }
}
