// What the leak collector does with one listed instance. Pure, so every rule is testable alone.
import { OWNER_TAG_KEYS, type Instance } from "../../providers/types.ts";
import type { SandboxSource } from "../ops/sandbox-view.ts";

export type Verdict =
  | { action: "keep"; why: "not-ours" | "owned" | "pooled" | "young" }
  | { action: "delete"; why: "orphan" | "peerpod-deleting" };

export interface VerdictInput {
  instance: Instance;
  cluster: string;
  node: string;
  source: SandboxSource;
  /** Ids of sandboxes whose create is in flight, read once per pass. */
  inFlight: ReadonlySet<string>;
  /** The warm pool: it records its unclaimed VMs (an unrecorded pool VM is a leak like any other). */
  pool?: PoolOwnership;
  /** Instances whose PeerPod is being deleted with the finalizer still set. */
  peerPodDeleting: ReadonlySet<string>;
  /** When the instance was created, or first seen by this collector when the cloud doesn't say. */
  bornAt: number;
  now: number;
  graceMs: number;
}

/** True only when the instance carries this cluster's and this node's owner tags and a sandbox id. */
export function carriesOurTags(instance: Instance, cluster: string, node: string): boolean {
  const t = instance.tags;
  return (
    t[OWNER_TAG_KEYS.cluster] === cluster &&
    t[OWNER_TAG_KEYS.node] === node &&
    (t[OWNER_TAG_KEYS.sandboxId] ?? "") !== ""
  );
}

export interface PoolOwnership {
  owns(instance: Instance, slotTag: string | undefined): boolean;
}

/** A pool-role VM the pool still records (unclaimed, or being created under its slot tag). */
export function pooled(instance: Instance, pool: PoolOwnership | undefined): boolean {
  return (
    instance.tags[OWNER_TAG_KEYS.role] === "pool" &&
    pool?.owns(instance, instance.tags[OWNER_TAG_KEYS.sandboxId]) === true
  );
}

export function verdict(v: VerdictInput): Verdict {
  // The provider filtered by these tags already; checked again so that a provider bug can never
  // make us delete something we did not create.
  if (!carriesOurTags(v.instance, v.cluster, v.node)) return { action: "keep", why: "not-ours" };
  const sandbox = v.instance.tags[OWNER_TAG_KEYS.sandboxId];
  // A known sandbox keeps its instance even when its PeerPod is going: its StopVM deletes it.
  if (v.source.ownsInstance(v.instance.id) || v.source.get(sandbox) !== undefined || v.inFlight.has(sandbox))
    return { action: "keep", why: "owned" };
  if (pooled(v.instance, v.pool)) return { action: "keep", why: "pooled" };
  if (v.peerPodDeleting.has(v.instance.id)) return { action: "delete", why: "peerpod-deleting" };
  if (v.now - v.bornAt < v.graceMs) return { action: "keep", why: "young" };
  return { action: "delete", why: "orphan" };
}
