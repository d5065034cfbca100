// The leak collector (docs/background.md §1.1, §5; Karpenter's garbage collection): at start-up
// and then periodically, list the instances carrying this cluster's and this node's owner tags and
// delete those no sandbox owns once they are older than the grace period (so an instance whose
// create is still in flight is never touched), and those whose PeerPod is being deleted. Works
// without Kubernetes (local state + tags). Every deletion is logged and counted; dry-run only logs.
import type { Instance, Provider } from "../../providers/types.ts";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { SandboxSource } from "../ops/sandbox-view.ts";
import { pooled, verdict, type PoolOwnership, type Verdict } from "./verdict.ts";

/** The PeerPod side (src/k8s/peerpod-service.ts) when running in Kubernetes. */
export interface PeerPodLeakSource {
  deletingInstanceIds(): Promise<Set<string>>;
  /** Clear the finalizer once the instance is gone, as peerpod-ctrl does after its delete. */
  releaseInstance?(instanceId: string): Promise<void>;
}

export interface LeakCollectorOptions {
  provider: Provider;
  source: SandboxSource;
  cluster: string;
  /**
   * This node's name (the `peerpod-node` tag). Each daemon collects only its own node's instances:
   * another node's sandboxes are unknown here, so listing the whole cluster would delete them.
   */
  node: string;
  graceMs?: number;
  intervalMs?: number;
  dryRun?: boolean;
  logger: Logger;
  metrics?: Pick<Metrics, "leak">;
  peerPods?: PeerPodLeakSource;
  pool?: PoolOwnership;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface LeakPass {
  /** Instances judged leaked in this pass (deleted unless dry-run or the delete failed). */
  found: Instance[];
  /** Ids deleted in this pass. */
  removed: string[];
}

export const DEFAULT_GRACE_MS = 120_000;
export const DEFAULT_INTERVAL_MS = 300_000;

export class LeakCollector {
  private readonly opts: LeakCollectorOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  /** First time an instance without a cloud creation time was listed. */
  private readonly firstSeen = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<LeakPass>;
  private abort = new AbortController();

  constructor(opts: LeakCollectorOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ component: "leak-collector" });
    this.now = opts.now ?? Date.now;
  }

  /** One pass now; concurrent callers share the pass in progress. Never throws. */
  runOnce(): Promise<LeakPass> {
    if (this.abort.signal.aborted && !this.timer) this.abort = new AbortController();
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.log.error({ err }, "leak collector pass failed");
        return { found: [], removed: [] };
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** A pass now, then one every interval until stop(). */
  start(): void {
    if (this.timer) return;
    this.abort = new AbortController();
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running;
  }

  private async pass(): Promise<LeakPass> {
    const { provider, cluster, node } = this.opts;
    const signal = this.abort.signal;
    const result: LeakPass = { found: [], removed: [] };
    // The live sandboxes as the listing begins: one stopped while the list was out has deleted
    // its instance itself, and must not have it judged a leak (a redundant delete, a false count).
    const inFlight = this.opts.source.inFlightSandboxIds();
    let instances: Instance[];
    try {
      instances = await provider.list({ cluster, node }, signal);
    } catch (err) {
      this.log.error({ err, provider: provider.name }, "leak collector could not list instances");
      return result;
    }
    const peerPodDeleting = await this.peerPodDeleting();
    const now = this.now();
    this.forgetGone(instances);
    for (const instance of instances) {
      const v = verdict({
        instance,
        cluster,
        node,
        source: this.opts.source,
        inFlight,
        pool: this.opts.pool,
        peerPodDeleting,
        bornAt: this.bornAt(instance, now),
        now,
        graceMs: this.opts.graceMs ?? DEFAULT_GRACE_MS,
      });
      if (v.action === "keep") {
        if (v.why === "not-ours")
          this.log.warn(
            { instance: instance.id },
            "provider listed an instance without our owner tags; left alone",
          );
        continue;
      }
      result.found.push(instance);
      if (await this.remove(instance, v)) result.removed.push(instance.id);
      if (signal.aborted) break;
    }
    return result;
  }

  private async remove(instance: Instance, v: Verdict & { action: "delete" }): Promise<boolean> {
    const { provider, dryRun, metrics, source } = this.opts;
    const sandbox = instance.tags[OWNER_TAG_KEYS.sandboxId];
    const fields = {
      instance: instance.id,
      name: instance.name,
      sandbox,
      pod: instance.tags[OWNER_TAG_KEYS.podName],
      namespace: instance.tags[OWNER_TAG_KEYS.podNamespace],
      reason: v.why,
      provider: provider.name,
    };
    metrics?.leak("found", provider.name);
    if (dryRun) {
      this.log.warn(fields, `dry run: would delete leaked instance ${instance.id}`);
      return false;
    }
    // A sandbox may have claimed it since the listing (recovery, a retried create): look again.
    if (
      source.ownsInstance(instance.id) ||
      source.get(sandbox) ||
      source.inFlightSandboxIds().has(sandbox) ||
      pooled(instance, this.opts.pool)
    )
      return false;
    try {
      await provider.delete(instance.id, this.abort.signal);
    } catch (err) {
      this.log.error({ ...fields, err }, `failed to delete leaked instance ${instance.id}`);
      return false;
    }
    this.firstSeen.delete(instance.id);
    metrics?.leak("removed", provider.name);
    this.log.warn(fields, `deleted leaked instance ${instance.id}`);
    if (v.why === "peerpod-deleting") await this.release(instance.id);
    return true;
  }

  private async peerPodDeleting(): Promise<Set<string>> {
    if (!this.opts.peerPods) return new Set();
    try {
      return await this.opts.peerPods.deletingInstanceIds();
    } catch (err) {
      this.log.error({ err }, "leak collector could not list PeerPods being deleted");
      return new Set();
    }
  }

  private async release(instanceId: string): Promise<void> {
    try {
      await this.opts.peerPods?.releaseInstance?.(instanceId);
    } catch (err) {
      this.log.error({ err, instance: instanceId }, "could not clear the PeerPod finalizer");
    }
  }

  private bornAt(instance: Instance, now: number): number {
    if (instance.createdAt) return instance.createdAt.getTime();
    let seen = this.firstSeen.get(instance.id);
    if (seen === undefined) this.firstSeen.set(instance.id, (seen = now));
    return seen;
  }

  private forgetGone(listed: Instance[]): void {
    const ids = new Set(listed.map((i) => i.id));
    for (const id of this.firstSeen.keys()) if (!ids.has(id)) this.firstSeen.delete(id);
  }
}
