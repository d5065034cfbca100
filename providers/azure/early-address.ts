// The VM's private address before its create finishes. ARM keeps a VM PUT's long-running operation
// `Creating` until the guest agent reports in, but the NIC (made by the same PUT, named after the
// VM as upstream names it) has its private IP within seconds, and the pod VM boots meanwhile. The
// core dials the forwarder at once (CreateRequest.onAddress) instead of waiting out the LRO. Only
// for private addresses: with USE_PUBLIC_IP the address to dial is the public IP, read afterwards.
import { setTimeout as sleep } from "node:timers/promises";
import type { CreateRequest, Instance } from "../types.ts";
import type { AzureContext } from "./context.ts";
import { nicName, vmId } from "./ids.ts";
import { ownerTags } from "./vm-params.ts";

/**
 * Poll the VM's NIC until it has a private IP and ARM has `accepted()` the VM PUT, then tell
 * `req.onAddress` once. Ends quietly when `until` aborts (the LRO settled, or the create failed)
 * or a read fails: the create's own result then decides.
 */
export async function reportEarlyAddress(
  ctx: AzureContext,
  req: CreateRequest,
  until: AbortSignal,
  accepted: () => boolean,
): Promise<void> {
  const onAddress = req.onAddress;
  if (!onAddress || ctx.cfg.usePublicIp) return;
  const rg = ctx.cfg.resourceGroup;
  try {
    while (!until.aborted) {
      const nic = await ctx.reads.get("nic", rg, nicName(req.name), false, until);
      const ip = nic?.ipConfigurations?.find((c) => c.privateIPAddress)?.privateIPAddress;
      if (ip && accepted() && !until.aborted) {
        const instance: Instance = {
          id: vmId({ subscriptionId: ctx.cfg.subscriptionId, resourceGroup: rg, name: req.name }),
          name: req.name,
          ips: [ip],
          tags: ownerTags(req.owner),
        };
        ctx.logger.info(
          { sandbox: req.owner.sandboxId, instance: req.name, ip },
          "Azure VM has its address while ARM still creates it; dialling it now",
        );
        onAddress(instance);
        return;
      }
      await sleep(ctx.pollIntervalMs, undefined, { signal: until });
    }
  } catch {
    // Aborted, or the NIC could not be read yet: the LRO's outcome is what counts.
  }
}
