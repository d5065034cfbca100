// Cluster-scope leak collection: the node collector (collector.ts) deletes only its own node's
// unowned instances, so when a node is removed its VMs would stay forever (upstream leaves this to
// peerpod-ctrl). Every daemon runs this beside it, but only the holder of one Lease acts: it lists
// the cluster's nodes and this cluster's instances, and deletes those whose owner node
// (`peerpod-node` tag) has been gone for the grace period, measured from when it first saw the
// node missing. Nothing is deleted when the node list can't be read. Logged and counted as the
// node collector does, and recorded as Events on the deleted node (`kubectl get events
// --field-selector involvedObject.kind=Node`); dry-run only logs and records.
import type { Instance, Provider } from "../../providers/types.ts";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../ops/metrics.ts";

/** The election (src/k8s/lease.ts). */
export interface Leadership {
  tryAcquireOrRenew(): Promise<boolean>;
  isLeader(): boolean;
  release(): Promise<void>;
}

export interface ClusterNodes {
  /** Names of the nodes that exist now. Throws when the API can't say. */
  nodeNames(): Promise<Set<string>>;
}

/** Kubernetes Events (src/k8s/events.ts); never throws. */
export interface NodeEvents {
  emitOnNode(
    node: string,
    ev: { reason: string; message: string; type: "Normal" | "Warning" },
  ): Promise<unknown>;
}

export const COLLECTED_REASON = "PeerPodVMCollected";
export const WOULD_COLLECT_REASON = "PeerPodVMWouldCollect";
export const COLLECT_FAILED_REASON = "PeerPodVMCollectFailed";

export interface ClusterLeakCollectorOptions {
  provider: Provider;
  cluster: string;
  leadership: Leadership;
  nodes: ClusterNodes;
  graceMs: number;
  /** How often the leader lists the cloud. */
  intervalMs: number;
  /** How often every candidate tries to acquire or renew the lease (a third of its duration). */
  renewMs: number;
  dryRun?: boolean;
  logger: Logger;
  metrics?: Pick<Metrics, "leak">;
  events?: NodeEvents;
  now?: () => number;
}

export interface ClusterLeakPass {
  leader: boolean;
  found: Instance[];
  removed: string[];
}

export class ClusterLeakCollector {
  private readonly opts: ClusterLeakCollectorOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  /**
   * Node name → when this instance first saw it missing while instances still named it. Kept
   * across leadership changes: a node seen missing at t has been missing since at least t.
   */
  private readonly goneSince = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private running?: Promise<ClusterLeakPass>;
  private abort = new AbortController();

  constructor(opts: ClusterLeakCollectorOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: "cluster-leak-collector" });
    this.now = opts.now ?? Date.now;
  }

  /** Renew (or try to acquire) the lease, then collect if this instance leads. Never throws. */
  runOnce(): Promise<ClusterLeakPass> {
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.log.error({ err }, "cluster leak collector pass failed");
        return { leader: this.opts.leadership.isLeader(), found: [], removed: [] };
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  start(): void {
    if (this.timers.length > 0) return;
    this.abort = new AbortController();
    void this.runOnce();
    const renew = setInterval(() => void this.opts.leadership.tryAcquireOrRenew(), this.opts.renewMs);
    const collect = setInterval(() => void this.runOnce(), this.opts.intervalMs);
    this.timers = [renew, collect];
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.abort.abort();
    await this.running;
    await this.opts.leadership.release();
  }

  private async pass(): Promise<ClusterLeakPass> {
    await this.opts.leadership.tryAcquireOrRenew();
    const result: ClusterLeakPass = { leader: this.opts.leadership.isLeader(), found: [], removed: [] };
    if (!result.leader) return result;
    const { provider, cluster } = this.opts;
    let nodes: Set<string>;
    let instances: Instance[];
    try {
      nodes = await this.opts.nodes.nodeNames();
    } catch (err) {
      this.log.error({ err }, "cluster leak collector could not list nodes; deleting nothing");
      return result;
    }
    try {
      instances = await provider.list({ cluster }, this.abort.signal);
    } catch (err) {
      this.log.error({ err, provider: provider.name }, "cluster leak collector could not list instances");
      return result;
    }
    const now = this.now();
    const orphanedNodes = new Set<string>();
    for (const instance of instances) {
      const node = instance.tags[OWNER_TAG_KEYS.node] ?? "";
      // Only instances with this cluster's tag and an owner node; a provider bug can't widen this.
      if (instance.tags[OWNER_TAG_KEYS.cluster] !== cluster || node === "" || nodes.has(node)) continue;
      orphanedNodes.add(node);
      if (!this.goneSince.has(node)) {
        this.goneSince.set(node, now);
        this.log.info({ node }, `node ${node} is gone; its instances go after the grace period`);
      }
      if (now - this.goneSince.get(node)! < this.opts.graceMs) continue;
      result.found.push(instance);
      if (await this.remove(instance, node)) result.removed.push(instance.id);
      if (this.abort.signal.aborted || !this.opts.leadership.isLeader()) break;
    }
    for (const node of this.goneSince.keys()) if (!orphanedNodes.has(node)) this.goneSince.delete(node);
    return result;
  }

  private async remove(instance: Instance, node: string): Promise<boolean> {
    const { provider, dryRun, metrics, events } = this.opts;
    const fields = {
      instance: instance.id,
      name: instance.name,
      node,
      sandbox: instance.tags[OWNER_TAG_KEYS.sandboxId],
      pod: instance.tags[OWNER_TAG_KEYS.podName],
      namespace: instance.tags[OWNER_TAG_KEYS.podNamespace],
      reason: "node-gone",
      provider: provider.name,
    };
    const vm = `instance ${instance.id}${fields.pod ? ` (pod ${fields.namespace}/${fields.pod})` : ""}`;
    metrics?.leak("found", provider.name);
    if (dryRun) {
      this.log.warn(fields, `dry run: would delete instance ${instance.id} of deleted node ${node}`);
      await events?.emitOnNode(node, {
        reason: WOULD_COLLECT_REASON,
        type: "Normal",
        message: `dry run (LEAK_DRY_RUN): would delete ${vm} of this deleted node`,
      });
      return false;
    }
    try {
      await provider.delete(instance.id, this.abort.signal);
    } catch (err) {
      this.log.error({ ...fields, err }, `failed to delete instance ${instance.id} of deleted node ${node}`);
      const code = (err as { code?: unknown }).code;
      await events?.emitOnNode(node, {
        reason: COLLECT_FAILED_REASON,
        type: "Warning",
        message: `could not delete ${vm} of this deleted node${typeof code === "string" ? ` (${code})` : ""}; retried next pass`,
      });
      return false;
    }
    metrics?.leak("removed", provider.name);
    this.log.warn(fields, `deleted instance ${instance.id} of deleted node ${node}`);
    await events?.emitOnNode(node, {
      reason: COLLECTED_REASON,
      type: "Warning",
      message: `deleted ${vm}: its node was gone for longer than the grace period`,
    });
    return true;
  }
}
