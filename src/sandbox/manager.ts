// The sandbox lifecycle (upstream-caa.md §3): CreateVM records, StartVM provisions, StopVM cleans
// up. Every transition is persisted before the next step, so a restart (src/sandbox/recovery.ts)
// knows every sandbox and every instance it made.
import { EventEmitter } from "node:events";
import { mkdir, rm } from "node:fs/promises";
import type { Logger } from "../log/logger.ts";
import type { Instance, Provider } from "../../providers/types.ts";
import { PartialCreateError, ProviderError } from "../../providers/errors.ts";
import { LifecycleError } from "./errors.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import type { SandboxRecord, SandboxView, Stage, StartStage } from "./model.ts";
import type { AgentPort, AgentSession, LifecycleObserver, PodNetworkPort, PullSecretsPort } from "./ports.ts";
import type { SandboxStore } from "./store.ts";
import { buildSandboxRecord, type CreateVMInput } from "./create.ts";

export interface ManagerConfig {
  podsDir: string;
  cluster: string;
  node: string;
  /** Global default initdata (INITDATA), already gzip+base64. */
  initdata: string;
  enableScratchSpace: boolean;
}

export interface ManagerDeps {
  provider: Provider;
  store: SandboxStore;
  logger: Logger;
  config: ManagerConfig;
  network?: PodNetworkPort;
  agent?: AgentPort;
  observer?: LifecycleObserver;
  pullSecrets?: PullSecretsPort;
}

export class SandboxManager {
  readonly deps: ManagerDeps;
  private readonly lock = new KeyedLock();
  private readonly sessions = new Map<string, AgentSession>();
  private readonly reconnects = new Map<string, AbortController>();
  private readonly instanceEvents = new EventEmitter();
  private readonly stageStartedAt = new Map<string, number>();

  constructor(deps: ManagerDeps) {
    this.deps = deps;
    this.instanceEvents.setMaxListeners(0);
  }

  private get log(): Logger {
    return this.deps.logger;
  }

  async createVM(input: CreateVMInput): Promise<{ agentSocketPath: string }> {
    const { store } = this.deps;
    return this.timed("create", () =>
      this.lock.run(input.id, async () => {
        const existing = store.get(input.id);
        if (existing && existing.stage !== "stopped") {
          throw new LifecycleError("already-exists", `sandbox ${input.id} already exists`);
        }
        const record = await buildSandboxRecord(input, this.deps);
        await mkdir(record.podDir, { recursive: true, mode: 0o700 });
        await store.put(record);
        this.stageStartedAt.set(record.id, Date.now());
        // The upstream e2e suite greps for this exact line (upstream-caa.md §3.1, §10).
        this.log.info(
          { component: "adaptor/cloud", sandbox: record.id, pod: record.podName, stage: record.stage },
          `create a sandbox ${record.id} for pod ${record.podName} in namespace ${record.podNamespace} (netns: ${record.netnsPath})`,
        );
        return { agentSocketPath: record.agentSocketPath };
      }),
    );
  }

  private async timed<T>(operation: "create" | "start" | "stop", fn: () => Promise<T>): Promise<T> {
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
        await this.provision(record, signal);
      }),
    );
  }

  /**
   * Stop is not bound to the caller's deadline: the Rust shim sends StopVM with a 1 s timeout
   * (upstream-caa.md §1.3) and a VM must be deleted all the same.
   */
  async stopVM(id: string): Promise<void> {
    return this.timed("stop", () =>
      this.lock.run(id, async () => {
        const record = this.deps.store.get(id);
        if (!record) throw new LifecycleError("not-found", `stopping VM: sandbox ${id} does not exist`);
        if (record.stage === "stopped") return;
        await this.stop(record);
      }),
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
      this.deps.store
        .all()
        .find(
          (r) =>
            r.podName === podName && r.podNamespace === podNamespace && r.stage !== "stopped" && r.instance,
        )?.instance?.id;
    const found = find();
    if (found) return found;
    if (!wait) throw new LifecycleError("not-found", `no instance for pod ${podNamespace}/${podName}`);
    return new Promise<string>((resolve, reject) => {
      const onInstance = () => {
        const id = find();
        if (id) {
          cleanup();
          resolve(id);
        }
      };
      const onAbort = () => {
        cleanup();
        reject(
          new LifecycleError(
            "not-found",
            `no instance for pod ${podNamespace}/${podName} before the deadline`,
          ),
        );
      };
      const cleanup = () => {
        this.instanceEvents.off("instance", onInstance);
        signal.removeEventListener("abort", onAbort);
      };
      this.instanceEvents.on("instance", onInstance);
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }

  list(): SandboxView[] {
    return this.deps.store
      .all()
      .filter((r) => r.stage !== "stopped")
      .map((r) => this.view(r));
  }

  get(id: string): SandboxView | undefined {
    const r = this.deps.store.get(id);
    return r && r.stage !== "stopped" ? this.view(r) : undefined;
  }

  ownsInstance(instanceId: string): boolean {
    return this.deps.store.all().some((r) => r.stage !== "stopped" && r.instance?.id === instanceId);
  }

  /** Every sandbox that may own an instance tagged with its id (including creates in flight). */
  inFlightSandboxIds(): Set<string> {
    return new Set(
      this.deps.store
        .all()
        .filter((r) => r.stage !== "stopped")
        .map((r) => r.id),
    );
  }

  /** Close agent sockets; VMs keep running and are reconnected by the next daemon (recovery.ts). */
  async close(): Promise<void> {
    for (const c of this.reconnects.values()) c.abort();
    this.reconnects.clear();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(sessions.map((s) => s.close()));
  }

  // --- StartVM ---------------------------------------------------------------------------------

  private async provision(record: SandboxRecord, signal: AbortSignal): Promise<void> {
    const { network, agent } = this.deps;
    let stage: StartStage = "provisioning";
    record.lastError = undefined;
    try {
      await this.enter(record, "provisioning");
      const instance = await this.createInstance(record, signal);
      const ip = instance.ips[0];
      if (!ip) throw new ProviderError(`instance ${instance.id} has no IP address`, { code: "NoAddress" });

      stage = "booting";
      await this.enter(record, "booting", false);
      if (network && record.podNetwork) await network.setup(record.netnsPath, record.podNetwork, ip);

      stage = "agent-connect";
      await this.enter(record, "agent-connect", false);
      if (agent) {
        const session = await agent.connect({
          sandboxId: record.id,
          socketPath: record.agentSocketPath,
          vmName: record.vmName,
          ip,
          signal,
        });
        this.sessions.set(record.id, session);
      }
      await this.enter(record, "running");
      this.log.info(
        {
          sandbox: record.id,
          pod: record.podName,
          stage: "running",
          instance: instance.id,
          timings: record.timings,
        },
        `sandbox ${record.id} is running on instance ${instance.name}`,
      );
    } catch (err) {
      const code = err instanceof ProviderError ? err.code : undefined;
      const detail = errorMessage(err);
      const message = detail.startsWith(`${stage}:`) ? detail : `${stage}: ${detail}`;
      this.log.error(
        { sandbox: record.id, pod: record.podName, stage, code, err: errorMessage(err) },
        "StartVM failed",
      );
      await this.undoStart(record);
      record.lastError = { stage, message, code };
      await this.enter(record, "failed");
      this.deps.observer?.failed?.(record, record.lastError);
      throw new LifecycleError("failed", message, { code, cause: err });
    }
  }

  private async createInstance(record: SandboxRecord, signal: AbortSignal): Promise<Instance> {
    const { provider, config, observer } = this.deps;
    let instance: Instance;
    try {
      instance = await provider.create(
        {
          name: record.vmName,
          userData: record.userData,
          spec: record.spec,
          owner: {
            cluster: config.cluster,
            node: config.node,
            sandboxId: record.id,
            podName: record.podName,
            podNamespace: record.podNamespace,
          },
        },
        signal,
      );
    } catch (err) {
      // Upstream's partial Instance: it exists, so record it for the cleanup that follows.
      if (err instanceof PartialCreateError) await this.recordInstance(record, err.instance);
      throw err;
    }
    // Recorded before anything after the cloud call can fail.
    await this.recordInstance(record, instance);
    this.log.info(
      { component: "adaptor/cloud", sandbox: record.id, pod: record.podName, instance: instance.id },
      `created an instance ${instance.name} for sandbox ${record.id}`,
    );
    await observer?.instanceCreated?.(record);
    return instance;
  }

  private async recordInstance(record: SandboxRecord, instance: Instance): Promise<void> {
    record.instance = { id: instance.id, name: instance.name, ips: instance.ips };
    await this.deps.store.put(record);
    this.instanceEvents.emit("instance");
  }

  /** Undo a failed StartVM: nothing it made may outlive it. */
  private async undoStart(record: SandboxRecord): Promise<void> {
    await this.closeSession(record.id);
    await this.teardownNetwork(record);
    await this.deleteInstance(record);
  }

  // --- StopVM ----------------------------------------------------------------------------------

  private async stop(record: SandboxRecord): Promise<void> {
    await this.enter(record, "stopping");
    await this.closeSession(record.id);
    await this.teardownNetwork(record);
    const deleted = await this.deleteInstance(record);
    if (!deleted) {
      // Keep the record in "stopping": recovery and the leak collector retry the deletion.
      throw new LifecycleError(
        "failed",
        `stopping VM: deleting instance of sandbox ${record.id}: ${record.lastError?.message}`,
      );
    }
    await rm(record.podDir, { recursive: true, force: true });
    // The tunnel is gone, so its index (VNI) may be handed out again.
    record.tunnelIndex = undefined;
    await this.enter(record, "stopped");
    this.stageStartedAt.delete(record.id);
    this.log.info(
      { sandbox: record.id, pod: record.podName, stage: "stopped" },
      `stopped sandbox ${record.id}`,
    );
  }

  /** Finish a stop that a previous daemon began (recovery). */
  async resumeStop(id: string): Promise<void> {
    await this.lock.run(id, async () => {
      const record = this.deps.store.get(id);
      if (record && record.stage === "stopping") await this.stop(record);
    });
  }

  // --- shared steps ----------------------------------------------------------------------------

  /** Serve a running sandbox's agent socket again after a restart; the VM kept running meanwhile. */
  reconnect(record: SandboxRecord, ip: string): void {
    const { agent } = this.deps;
    if (!agent) return;
    const controller = new AbortController();
    this.reconnects.set(record.id, controller);
    agent
      .connect({
        sandboxId: record.id,
        socketPath: record.agentSocketPath,
        vmName: record.vmName,
        ip,
        signal: controller.signal,
      })
      .then(
        (session) => {
          this.sessions.set(record.id, session);
          this.log.info(
            { sandbox: record.id, stage: record.stage },
            "reconnected the agent proxy after restart",
          );
        },
        (err: unknown) => {
          this.log.error(
            { sandbox: record.id, err: errorMessage(err) },
            "reconnecting the agent proxy failed",
          );
        },
      )
      .finally(() => {
        if (this.reconnects.get(record.id) === controller) this.reconnects.delete(record.id);
      });
  }

  /** Undo a StartVM that a previous daemon did not finish (recovery). */
  async undoAfterRestart(record: SandboxRecord): Promise<void> {
    await this.undoStart(record);
  }

  private async closeSession(id: string): Promise<void> {
    this.reconnects.get(id)?.abort();
    this.reconnects.delete(id);
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    if (!session) return;
    try {
      await session.close();
    } catch (err) {
      this.log.warn({ sandbox: id, err: errorMessage(err) }, "closing agent proxy failed");
    }
  }

  private async teardownNetwork(record: SandboxRecord): Promise<void> {
    const { network } = this.deps;
    const ip = record.instance?.ips[0];
    if (!network || !record.podNetwork || !ip) return;
    try {
      await network.teardown(record.netnsPath, record.podNetwork, ip);
    } catch (err) {
      this.log.warn({ sandbox: record.id, err: errorMessage(err) }, "pod network teardown failed");
    }
  }

  /** Delete the recorded instance; true when it is gone. Not bound to any caller's deadline. */
  async deleteInstance(record: SandboxRecord): Promise<boolean> {
    const instance = record.instance;
    if (!instance) return true;
    try {
      await this.deps.provider.delete(instance.id);
    } catch (err) {
      const code = err instanceof ProviderError ? err.code : undefined;
      record.lastError = {
        stage: "stopping",
        message: `deleting instance ${instance.id}: ${errorMessage(err)}`,
        code,
      };
      await this.deps.store.put(record);
      this.log.error(
        { sandbox: record.id, instance: instance.id, code, err: errorMessage(err) },
        "deleting instance failed",
      );
      return false;
    }
    this.log.info({ sandbox: record.id, instance: instance.id }, `deleted instance ${instance.name}`);
    await this.deps.observer?.instanceDeleted?.(record);
    // Persisted with the next stage; if the daemon dies first, the retried delete finds nothing.
    record.instance = undefined;
    return true;
  }

  /**
   * Move to a stage: time the one that ends, persist, report. Stages inside StartVM after the
   * instance is recorded need not reach the disk: recovery treats them all as "StartVM cut off".
   */
  async enter(record: SandboxRecord, stage: Stage, persist = true): Promise<void> {
    const now = Date.now();
    const since = this.stageStartedAt.get(record.id);
    if (since !== undefined && record.stage !== stage) {
      const ms = now - since;
      record.timings[record.stage] = (record.timings[record.stage] ?? 0) + ms;
      this.deps.observer?.stage?.(record, record.stage, ms);
    }
    this.stageStartedAt.set(record.id, now);
    record.stage = stage;
    if (persist) await this.deps.store.put(record);
  }

  private view(r: SandboxRecord): SandboxView {
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
      vni:
        r.tunnelIndex !== undefined && this.deps.network ? this.deps.network.vni(r.tunnelIndex) : undefined,
      timings: { ...r.timings },
      lastError: r.lastError,
    };
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
