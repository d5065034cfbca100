// The sandbox manager: the one entry the RPC edge, the ops endpoint and the leak collector use. It
// runs every lifecycle transition (lifecycle.ts) under the sandbox's lock — restart recovery too, so
// a shim call for a sandbox still being recovered waits for it — and answers read-only views.
import pLimit from "p-limit";
import { messageOf } from "../../providers/errors.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import { LifecycleError } from "./errors.ts";
import { InstanceWaiters } from "./instance-waiters.ts";
import { Lifecycle, type LifecycleConfig, type LifecycleDeps } from "./lifecycle.ts";
import type { SandboxRecord, SandboxView } from "./model.ts";
import type { CreateVMInput } from "./record.ts";
import { countOf, emptyReport, RECOVERY_CONCURRENCY, type RecoveryReport } from "./recovery.ts";
import { AgentSessions } from "./sessions.ts";
import { StopRetries } from "./stop-retries.ts";
import { podDirNames, removeStrayPodDirs } from "./stray-pod-dirs.ts";

export type ManagerConfig = LifecycleConfig;

/** The lifecycle's dependencies: the manager adds only the locking and the views. */
export type ManagerDeps = LifecycleDeps;

type Operation = "create" | "start" | "stop";

export class SandboxManager {
  readonly deps: Readonly<ManagerDeps>;
  private readonly lock = new KeyedLock();
  private readonly sessions: AgentSessions;
  private readonly waiters = new InstanceWaiters();
  private readonly lifecycle: Lifecycle;
  private readonly stopRetries: StopRetries;

  constructor(deps: ManagerDeps) {
    this.deps = deps;
    this.sessions = new AgentSessions(deps.agent, deps.logger);
    this.lifecycle = new Lifecycle(deps, this.sessions, this.waiters);
    this.stopRetries = new StopRetries((id) => this.retryStop(id), deps.logger);
  }

  async createVM(input: CreateVMInput): Promise<{ agentSocketPath: string }> {
    return this.timed("create", () =>
      this.lock.run(input.id, async () => {
        const record = await this.lifecycle.create(input);
        // The upstream e2e suite greps for this exact line (docs/upstream-compat.md §3.1, §10).
        this.deps.logger.info(
          { component: "adaptor/cloud", sandbox: record.id, pod: record.podName, stage: record.stage },
          `create a sandbox ${record.id} for pod ${record.podName} in namespace ${record.podNamespace} (netns: ${record.netnsPath})`,
        );
        return { agentSocketPath: record.agentSocketPath };
      }),
    );
  }

  async startVM(id: string, signal: AbortSignal): Promise<void> {
    return this.timed("start", () =>
      this.lock.run(id, async () => {
        const record = this.deps.store.get(id);
        if (!record || record.stage === "stopped") {
          throw new LifecycleError("not-found", `sandbox ${id} does not exist`);
        }
        if (record.stage === "running") return;
        if (record.stage === "stopping") {
          throw new LifecycleError("failed-precondition", `sandbox ${id} is stopping`);
        }
        await this.lifecycle.start(record, signal);
      }),
    );
  }

  /** Not bound to the caller's deadline (see Lifecycle.stop). */
  async stopVM(id: string): Promise<void> {
    return this.timed("stop", () =>
      this.lock.run(id, async () => {
        const record = this.deps.store.get(id);
        if (!record) throw new LifecycleError("not-found", `stopping VM: sandbox ${id} does not exist`);
        if (record.stage === "stopped") return;
        await this.lifecycle.stop(record).catch((err: unknown) => {
          if (record.stage === "stopping") this.stopRetries.schedule(id);
          throw err;
        });
      }),
    );
  }

  /** The daemon's own retry of a StopVM whose delete failed (stop-retries.ts). */
  private retryStop(id: string): Promise<"stopped" | "stopping" | "other"> {
    return this.lock.run(id, async () => {
      const record = this.deps.store.get(id);
      if (!record || record.stage !== "stopping") return "other";
      return this.lifecycle.stop(record).then(
        () => "stopped" as const,
        () => (record.stage === "stopping" ? "stopping" : "other"),
      );
    });
  }

  /**
   * Recover every recorded sandbox, each under its lock. The locks are taken before this returns
   * its promise, so the caller may serve at once: a call for a sandbox still being recovered waits.
   */
  recover(): Promise<RecoveryReport> {
    const limit = pLimit(RECOVERY_CONCURRENCY);
    const records = this.deps.store.all();
    const jobs = records.map((r) =>
      this.lock.run(r.id, () =>
        limit(async () => {
          const current = this.deps.store.get(r.id);
          if (current !== r) return undefined;
          const outcome = await this.lifecycle.recover(r).catch((err: unknown) => {
            this.deps.logger.error({ sandbox: r.id, err: messageOf(err) }, "recovering a sandbox failed");
            return undefined;
          });
          // An interrupted StopVM whose delete failed again is retried like any other.
          if (r.stage === "stopping") this.stopRetries.schedule(r.id);
          return outcome;
        }),
      ),
    );
    const strays = this.removeStrayPodDirs();
    return Promise.all([Promise.all(jobs), strays]).then(([outcomes]) => {
      const report = emptyReport();
      outcomes.forEach((o, i) => (o ? report[o].push(records[i].id) : undefined));
      this.deps.logger.info({ ...countOf(report) }, "recovered sandboxes from the state directory");
      return report;
    });
  }

  /** Directories under PODS_DIR of CreateVMs cut off before their record was saved (stray-pod-dirs.ts). */
  private async removeStrayPodDirs(): Promise<void> {
    const { config, store, logger } = this.deps;
    const names = await podDirNames(config.podsDir);
    const removed = await removeStrayPodDirs(
      config.podsDir,
      names,
      (id) => store.get(id) !== undefined,
      (id, fn) => this.lock.run(id, fn),
    ).catch((err: unknown) => {
      logger.error({ podsDir: config.podsDir, err: messageOf(err) }, "removing stray pod directories failed");
      return [];
    });
    for (const id of removed)
      logger.warn(
        { sandbox: id },
        `removed ${config.podsDir}/${id}: no record names it (a CreateVM cut off by a restart before its record was saved)`,
      );
  }

  /** podvminfo.PodVMInfo/GetInfo: the instance id of a pod, optionally waiting until it is known. */
  async instanceIdOf(
    podName: string,
    podNamespace: string,
    wait: boolean,
    signal: AbortSignal,
  ): Promise<string> {
    const find = () =>
      this.live().find((r) => r.podName === podName && r.podNamespace === podNamespace && r.instance)
        ?.instance?.id;
    const found = find();
    if (found) return found;
    if (!wait) throw new LifecycleError("not-found", `no instance for pod ${podNamespace}/${podName}`);
    return this.waiters.wait(find, `${podNamespace}/${podName}`, signal);
  }

  list(): SandboxView[] {
    return this.live().map((r) => this.view(r));
  }

  get(id: string): SandboxView | undefined {
    const r = this.deps.store.get(id);
    return r && r.stage !== "stopped" ? this.view(r) : undefined;
  }

  ownsInstance(instanceId: string): boolean {
    return this.live().some((r) => r.instance?.id === instanceId);
  }

  /** Every sandbox that may own an instance tagged with its id (including creates in flight). */
  inFlightSandboxIds(): Set<string> {
    return new Set(this.live().map((r) => r.id));
  }

  /** Close agent sockets; VMs keep running and are reconnected by the next daemon. */
  async close(): Promise<void> {
    // A retry cut off here is finished by the next daemon's recovery (the record stays "stopping").
    await this.stopRetries.close();
    await this.sessions.closeAll();
  }

  private live(): SandboxRecord[] {
    return this.deps.store.all().filter((r) => r.stage !== "stopped");
  }

  private async timed<T>(operation: Operation, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const v = await fn();
      this.deps.observer?.call?.(operation, performance.now() - t0, true);
      return v;
    } catch (err) {
      this.deps.observer?.call?.(operation, performance.now() - t0, false);
      throw err;
    }
  }

  private view(r: SandboxRecord): SandboxView {
    const { network } = this.deps;
    return {
      id: r.id,
      podName: r.podName,
      podNamespace: r.podNamespace,
      stage: r.stage,
      createdAt: r.createdAt,
      instanceId: r.instance?.id,
      instanceName: r.instance?.name ?? r.vmName,
      instanceType: r.spec.instanceType,
      ips: r.instance?.ips ?? [],
      vni: r.tunnelIndex !== undefined && network ? network.vni(r.tunnelIndex) : undefined,
      timings: { ...r.timings },
      pooled: r.pooled,
      lastError: r.lastError,
    };
  }
}
