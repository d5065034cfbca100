// Creating one pod VM: ONE VM PUT as upstream, waited on, for the size the core chose (capacity
// fallback is the core's: src/sandbox/capacity.ts). A create that fails after Azure may have made something (the LRO ended
// Failed, 409, 5xx, a timeout) removes the VM, NIC, disk and public IP before the error is
// returned (docs/background.md §1.1). If that cleanup itself fails the name is remembered, and
// the next create of it GETs the VM first instead of PUTting blindly (azure-aci#132).
import type { VirtualMachine } from "@azure/arm-compute";
import { setTimeout as sleep } from "node:timers/promises";
import { PartialCreateError, ProviderError } from "../errors.ts";
import { OWNER_TAG_KEYS, type CreateRequest, type Instance } from "../types.ts";
import { describeFailure, toProviderError } from "./azure-errors.ts";
import { callOptions, lroOptions, type AzureContext } from "./context.ts";
import { vmId } from "./ids.ts";
import { pickAddresses, readNetwork, toInstance } from "./instance.ts";
import { checkDataDisks } from "./data-disks.ts";
import { reportEarlyAddress } from "./early-address.ts";
import { captureLroFailure } from "./lro-capture.ts";
import { getOrUndefined, partsFrom, removeVm, type VmParts } from "./removal.ts";
import { buildVmParameters, ownerTags } from "./vm-params.ts";

/** Cleanup after a failed create is not bound to the caller's deadline, but to this one. */
const CLEANUP_TIMEOUT_MS = 10 * 60_000;
/** Codes on the PUT itself that mean ARM refused the request before making anything. */
const REFUSED_STATUSES = new Set([400, 401, 403, 404, 429]);

export interface CreateDeps {
  ctx: AzureContext;
  sshPublicKey: string;
  /** VM names whose state is unknown after a failed cleanup. */
  suspects: Set<string>;
  /** Told the parts (NIC, disk, public IP names) of each VM made, so that its delete need not read them. */
  remember(name: string, parts: VmParts): void;
  /** The size's MaxDataDiskCount from the region's size list, if listed. */
  maxDataDisks(size: string): number | undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One VM PUT for the size the core asks for; the core tries the next size on a capacity error. */
export async function createVm(d: CreateDeps, req: CreateRequest, signal?: AbortSignal): Promise<Instance> {
  // Upstream's line (CAA src/cloud-providers/azure/provider.go CreateInstance); the e2e suite's
  // alternate-image test greps the CAA log for `Choosing <image>`.
  if (req.spec.image)
    d.ctx.logger.info(
      { sandbox: req.owner.sandboxId },
      `Choosing ${req.spec.image} from annotation as the Azure Image for the PodVM image`,
    );
  return createWithSize(d, req, req.spec.instanceType || d.ctx.cfg.instanceSize, signal);
}

async function createWithSize(
  d: CreateDeps,
  req: CreateRequest,
  size: string,
  signal?: AbortSignal,
): Promise<Instance> {
  const { ctx } = d;
  const { cfg } = ctx;
  const rg = cfg.resourceGroup;
  const what = `Azure VM create ${req.name} (${size} in ${cfg.region})`;
  const params = buildVmParameters(cfg, {
    name: req.name,
    size,
    image: req.spec.image,
    userData: req.userData,
    sshPublicKey: d.sshPublicKey,
    owner: req.owner,
    volumes: req.spec.volumes,
  });
  if (d.suspects.has(req.name)) {
    const adopted = await adoptOrClear(d, req, signal);
    if (adopted) return adopted;
  }
  // After adoptOrClear: a VM of an earlier create may have held the disks until it was removed.
  const volumes = req.spec.volumes ?? [];
  await checkDataDisks(ctx, volumes, size, d.maxDataDisks(size), signal);
  ctx.logger.info(
    { sandbox: req.owner.sandboxId, instance: req.name, stage: "provisioning", size },
    "creating Azure VM",
  );
  for (const v of volumes)
    ctx.logger.info(
      { sandbox: req.owner.sandboxId, instance: req.name, volume: v.diskId, lun: v.lun },
      `attaching cloud volume ${v.name} (${v.diskId}) as data disk LUN ${v.lun}`,
    );
  let poller: ReturnType<typeof ctx.compute.virtualMachines.createOrUpdate> | undefined;
  let vm: VirtualMachine;
  // Started outside captureLroFailure, so that the NIC's 404s before the PUT lands are not taken
  // for the operation's failure. Only a PUT ARM accepted (the poller has its first state) is
  // reported: one carried out but answered with a 5xx or a dropped connection is removed below,
  // and a VM dialled meanwhile would be taken from a sandbox StartVM already called running.
  const settled = new AbortController();
  void reportEarlyAddress(
    ctx,
    req,
    signal ? AbortSignal.any([settled.signal, signal]) : settled.signal,
    () => poller?.operationState !== undefined,
  );
  try {
    vm = await captureLroFailure(() => {
      poller = ctx.compute.virtualMachines.createOrUpdate(rg, req.name, params, lroOptions(ctx, signal));
      return poller;
    });
  } catch (err) {
    settled.abort();
    throw await afterFailedCreate(d, req, what, err, poller?.operationState === undefined);
  } finally {
    settled.abort();
  }
  try {
    const net = await readNetwork(ctx, vm, signal);
    const ips = pickAddresses(req.name, net, cfg.usePublicIp);
    d.remember(req.name, partsFrom(vm, net.nics));
    return toInstance(vm, ips);
  } catch (err) {
    throw await afterFailedCreate(d, req, `${what}: reading its addresses`, err, false);
  }
}

/** Remove what the failed create may have made; the error says what Azure said and what was removed. */
async function afterFailedCreate(
  d: CreateDeps,
  req: CreateRequest,
  what: string,
  err: unknown,
  putNotAccepted: boolean,
): Promise<ProviderError> {
  const { ctx } = d;
  const failure = describeFailure(err);
  if (putNotAccepted && failure.status !== undefined && REFUSED_STATUSES.has(failure.status)) {
    return toProviderError(what, err);
  }
  const log = { sandbox: req.owner.sandboxId, instance: req.name, code: failure.code };
  try {
    const leftovers = await removeVm(
      ctx,
      ctx.cfg.resourceGroup,
      req.name,
      AbortSignal.timeout(CLEANUP_TIMEOUT_MS),
    );
    ctx.logger.warn({ ...log, leftovers }, "Azure VM create failed; removed what it had made");
    return toProviderError(
      what,
      err,
      "; nothing of it is left (VM, NIC, disk and public IP checked and removed)",
    );
  } catch (cleanupErr) {
    d.suspects.add(req.name);
    ctx.logger.error(
      { ...log, cleanupError: errorText(cleanupErr) },
      "Azure VM create failed and its cleanup failed",
    );
    const typed = toProviderError(what, err);
    const instance: Instance = {
      id: vmId({
        subscriptionId: ctx.cfg.subscriptionId,
        resourceGroup: ctx.cfg.resourceGroup,
        name: req.name,
      }),
      name: req.name,
      ips: [],
      tags: ownerTags(req.owner),
    };
    return new PartialCreateError(
      `${typed.message}; removing what it made failed too (${errorText(cleanupErr)}), so VM ${req.name} may exist`,
      instance,
      { code: typed.code, cause: err },
    );
  }
}

const TERMINAL = new Set(["Succeeded", "Failed", "Canceled"]);

async function waitForTerminal(
  d: CreateDeps,
  name: string,
  signal?: AbortSignal,
): Promise<VirtualMachine | undefined> {
  const { ctx } = d;
  for (;;) {
    const vm = await getOrUndefined(() =>
      ctx.compute.virtualMachines.get(ctx.cfg.resourceGroup, name, callOptions(signal)),
    );
    if (!vm || TERMINAL.has(vm.provisioningState ?? "Succeeded")) return vm;
    await sleep(ctx.pollIntervalMs, undefined, { signal });
  }
}

/**
 * Before creating a VM whose earlier create ended unknown: GET it. Ours and provisioned (or
 * provisioning) — use it; failed — remove it and create afresh; someone else's — refuse.
 */
async function adoptOrClear(
  d: CreateDeps,
  req: CreateRequest,
  signal?: AbortSignal,
): Promise<Instance | undefined> {
  const { ctx } = d;
  const vm = await waitForTerminal(d, req.name, signal);
  if (vm && vm.tags?.[OWNER_TAG_KEYS.sandboxId] !== req.owner.sandboxId) {
    throw new ProviderError(`Azure VM ${req.name} exists and belongs to another sandbox`, {
      code: "VmNameInUse",
    });
  }
  if (vm?.provisioningState === "Succeeded") {
    ctx.logger.info(
      { sandbox: req.owner.sandboxId, instance: req.name },
      "found the VM an earlier create made; using it",
    );
    d.suspects.delete(req.name);
    const net = await readNetwork(ctx, vm, signal);
    const ips = pickAddresses(req.name, net, ctx.cfg.usePublicIp);
    d.remember(req.name, partsFrom(vm, net.nics));
    return toInstance(vm, ips);
  }
  await removeVm(ctx, ctx.cfg.resourceGroup, req.name, signal);
  d.suspects.delete(req.name);
  return undefined;
}
