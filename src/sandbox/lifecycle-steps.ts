// The steps the lifecycle (lifecycle.ts) is made of, each changing a record and persisting it.
// Only the lifecycle uses them, always under the sandbox's lock.
import type { Logger } from "../log/logger.ts";
import type { Instance, Provider } from "../../providers/types.ts";
import { errorCode, messageOf } from "../../providers/errors.ts";
import type { OfferingsMemory } from "./capacity.ts";
import type { InstanceWaiters } from "./instance-waiters.ts";
import type { SandboxError, SandboxRecord, Stage } from "./model.ts";
import type {
  AgentPort,
  LifecycleObserver,
  PodAnnotationsPort,
  PodNetworkPort,
  PullSecretsPort,
  WarmPoolPort,
} from "./ports.ts";
import type { RecordConfig } from "./record.ts";
import { mustSync } from "./recovery.ts";
import type { AgentSessions } from "./sessions.ts";
import type { SandboxStore } from "./store.ts";

export interface LifecycleConfig extends RecordConfig {
  cluster: string;
  node: string;
}

export interface LifecycleDeps {
  provider: Provider;
  store: SandboxStore;
  logger: Logger;
  config: LifecycleConfig;
  network?: PodNetworkPort;
  agent?: AgentPort;
  observer?: LifecycleObserver;
  pullSecrets?: PullSecretsPort;
  podAnnotations?: PodAnnotationsPort;
  pool?: WarmPoolPort;
  /** Instance types that just had no capacity, shared by every sandbox's capacity fallback. */
  offerings?: OfferingsMemory;
}

export class LifecycleSteps {
  private readonly d: LifecycleDeps;
  private readonly sessions: AgentSessions;
  private readonly waiters: InstanceWaiters;
  private readonly stageStartedAt = new Map<string, number>();

  constructor(deps: LifecycleDeps, sessions: AgentSessions, waiters: InstanceWaiters) {
    this.d = deps;
    this.sessions = sessions;
    this.waiters = waiters;
  }

  /** A new record's first stage starts its clock. */
  started(record: SandboxRecord): void {
    this.stageStartedAt.set(record.id, Date.now());
  }

  /** A stopped record's clock is dropped. */
  forget(record: SandboxRecord): void {
    this.stageStartedAt.delete(record.id);
  }

  /**
   * `durable: false` for an instance the cloud call made for this sandbox: it carries the
   * sandbox's owner tags, so a record one write older (provisioning, no instance; the machine went
   * down) is recovered by listing those tags, as when the daemon dies during the cloud call
   * (lifecycle.ts undoInterruptedStart). A pooled instance carries the pool's tags: durable.
   */
  async recordInstance(
    record: SandboxRecord,
    instance: Instance,
    opts: { durable?: boolean } = {},
  ): Promise<void> {
    record.instance = { id: instance.id, name: instance.name, ips: instance.ips };
    await this.d.store.put(record, opts);
    this.waiters.notify();
  }

  /** Undo a StartVM (failed, or cut off by a restart): nothing it made may outlive it. */
  async undoStart(record: SandboxRecord): Promise<void> {
    await this.sessions.close(record.id);
    await this.teardownNetwork(record);
    await this.deleteInstance(record);
  }

  async fail(record: SandboxRecord, error: SandboxError): Promise<void> {
    record.lastError = error;
    await this.enter(record, "failed");
  }

  async teardownNetwork(record: SandboxRecord): Promise<void> {
    const { network, logger } = this.d;
    const ip = record.instance?.ips[0];
    if (!network || !record.podNetwork || !ip) return;
    try {
      await network.teardown(record.netnsPath, record.podNetwork, ip);
    } catch (err) {
      logger.warn({ sandbox: record.id, err: messageOf(err) }, "pod network teardown failed");
    }
  }

  /** Delete the recorded instance; true when it is gone. Not bound to any caller's deadline. */
  async deleteInstance(record: SandboxRecord): Promise<boolean> {
    const { provider, store, logger, observer } = this.d;
    const instance = record.instance;
    if (!instance) return true;
    try {
      await provider.delete(instance.id);
    } catch (err) {
      const code = errorCode(err);
      record.lastError = {
        stage: "stopping",
        message: `deleting instance ${instance.id}: ${messageOf(err)}`,
        code,
      };
      await store.put(record);
      logger.error(
        { sandbox: record.id, instance: instance.id, code, err: messageOf(err) },
        "deleting instance failed",
      );
      return false;
    }
    logger.info({ sandbox: record.id, instance: instance.id }, `deleted instance ${instance.name}`);
    await observer?.instanceDeleted?.(record);
    // Persisted with the next stage; if the daemon dies first, the retried delete finds nothing.
    record.instance = undefined;
    return true;
  }

  /**
   * Move to a stage: time the one that ends, persist (with an fsync where recovery needs one,
   * recovery.ts mustSync), report. Stages inside StartVM after the instance is recorded need not
   * reach the disk: recovery treats them all as "StartVM cut off".
   */
  async enter(record: SandboxRecord, stage: Stage, persist = true): Promise<void> {
    const now = Date.now();
    const since = this.stageStartedAt.get(record.id);
    if (since !== undefined && record.stage !== stage) {
      const ms = now - since;
      record.timings[record.stage] = (record.timings[record.stage] ?? 0) + ms;
      this.d.observer?.stage?.(record, record.stage, ms);
    }
    this.stageStartedAt.set(record.id, now);
    record.stage = stage;
    if (persist) await this.d.store.put(record, { durable: mustSync(stage) });
  }
}
