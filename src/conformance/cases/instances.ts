// Creating, checking and waiting for instances on behalf of the cases. Every instance made here
// is recorded in ctx.created before anything else can fail, so cleanup finds it.
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { isNotFound, PartialCreateError } from "../../../providers/errors.ts";
import {
  OWNER_TAG_KEYS,
  type CreateRequest,
  type Instance,
  type OwnerTags,
} from "../../../providers/types.ts";
import { vmName } from "../../sandbox/vm-name.ts";
import type { CaseContext } from "../types.ts";

export const NAMESPACE = "caa-conformance";
export const NODE = "conformance-node";

export function newSandboxId(): string {
  return randomBytes(32).toString("hex");
}

/** User-data that is valid cloud-config and does nothing, with a marker unique to the instance. */
export function markerUserData(cluster: string, sandboxId: string): string {
  return `#cloud-config\n# written by caa conformance run ${cluster} for sandbox ${sandboxId}; nothing to do\n`;
}

export function ownerTags(ctx: CaseContext, label: string, node = NODE): OwnerTags {
  return {
    cluster: ctx.cluster,
    node,
    sandboxId: newSandboxId(),
    podName: `conformance-${label}`,
    podNamespace: NAMESPACE,
  };
}

export function createRequest(ctx: CaseContext, owner: OwnerTags): CreateRequest {
  const type = ctx.provider.defaultInstanceType();
  const sizes = ctx.provider.instanceTypes().find((t) => t.name === type);
  return {
    name: vmName(owner.podName, owner.sandboxId),
    userData: markerUserData(ctx.cluster, owner.sandboxId),
    spec: {
      instanceType: type,
      vcpus: sizes?.vcpus ?? 0,
      memoryMiB: sizes?.memoryMiB ?? 0,
      gpus: 0,
      image: "",
    },
    owner,
  };
}

export async function createInstance(ctx: CaseContext, req: CreateRequest): Promise<Instance> {
  try {
    const inst = await ctx.provider.create(req, ctx.signal);
    ctx.created.set(inst.id, inst);
    return inst;
  } catch (err) {
    if (err instanceof PartialCreateError) ctx.created.set(err.instance.id, err.instance);
    throw err;
  }
}

/** The instance names what was asked for and carries every owner tag. */
export function checkInstance(inst: Instance, req: CreateRequest, call: string): void {
  if (typeof inst.id !== "string" || inst.id === "")
    throw new Error(`${call} returned an instance without an id`);
  if (inst.name !== req.name)
    throw new Error(
      `${call} returned name ${JSON.stringify(inst.name)}, expected ${JSON.stringify(req.name)}`,
    );
  const ip = inst.ips[0];
  if (ip === undefined || isIP(ip) === 0 || ip === "0.0.0.0") {
    throw new Error(
      `${call} returned ${inst.id} without a usable IP (ips: ${JSON.stringify(inst.ips)}); IPs[0] must reach the forwarder`,
    );
  }
  const missing = Object.entries(OWNER_TAG_KEYS)
    .filter(([field, key]) => inst.tags[key] !== req.owner[field as keyof OwnerTags])
    .map(([, key]) => `${key}=${inst.tags[key] ?? "(absent)"}`);
  if (missing.length > 0) {
    throw new Error(`${call} returned ${inst.id} with wrong or missing owner tags: ${missing.join(", ")}`);
  }
}

export function describeOwner(owner: Partial<OwnerTags>): string {
  return Object.entries(owner)
    .map(([k, v]) => `${OWNER_TAG_KEYS[k as keyof OwnerTags]}=${v}`)
    .join(", ");
}

/** list(owner), failing when it returns an instance without every given tag. */
export async function listChecked(ctx: CaseContext, owner: Partial<OwnerTags>): Promise<Instance[]> {
  const found = await ctx.provider.list(owner, ctx.signal);
  const wrong = found.filter((inst) =>
    Object.entries(owner).some(([k, v]) => inst.tags[OWNER_TAG_KEYS[k as keyof OwnerTags]] !== v),
  );
  if (wrong.length > 0) {
    throw new Error(
      `list({${describeOwner(owner)}}) returned ${wrong.length} instance(s) without those tags: ${ids(wrong)}; ` +
        "list must return only instances carrying every given owner tag",
    );
  }
  return found;
}

export function ids(instances: readonly Instance[]): string {
  return instances.length === 0
    ? "none"
    : instances
        .map((i) => i.id)
        .sort()
        .join(", ");
}

/** Poll get(id) until it throws NotFoundError; fail readably when the case's time runs out. */
export async function waitUntilGone(ctx: CaseContext, id: string): Promise<void> {
  const started = Date.now();
  await waitFor(
    ctx,
    async () => {
      try {
        await ctx.provider.get(id, ctx.signal);
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    },
    () =>
      `instance ${id} still exists ${Math.round((Date.now() - started) / 1000)} s after delete() resolved ` +
      "(get() never threw NotFoundError): delete must remove the instance",
  );
}

/** Poll until `check` returns true; fail with `describe()` once the case's signal aborts. */
export async function waitFor(
  ctx: CaseContext,
  check: () => Promise<boolean>,
  describe: () => string,
): Promise<void> {
  const givenUp = () => new Error(`${describe()} (${abortReason(ctx.signal)})`);
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (ctx.signal.aborted) throw givenUp();
      throw err;
    }
    await sleep(ctx.pollIntervalMs, undefined, { signal: ctx.signal }).catch(() => undefined);
    if (ctx.signal.aborted) throw givenUp();
  }
}

export function abortReason(signal: AbortSignal): string {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === "TimeoutError" ? "gave up when the case timed out" : "interrupted";
}
