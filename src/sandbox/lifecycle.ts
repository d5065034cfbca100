// Every transition of a sandbox, each written once: create, start, stop, the undo of a failed start,
// and restart recovery (docs/upstream-compat.md §3). The manager (manager.ts) runs each under the sandbox's
// lock; nothing else changes a record. Every transition is persisted before the next step, so a
// restart knows every sandbox and every instance it made.
import { rmSync } from "node:fs";
import { ensurePrivateDir } from "../util/private-dir.ts";
import type { Instance } from "../../providers/types.ts";
import { errorCode, isNotFound, messageOf, ProviderError } from "../../providers/errors.ts";
import { CLOUD_VOLUMES_ANNOTATION, parseCloudVolumes, type CloudVolume } from "./cloud-volumes.ts";
import { LifecycleError } from "./errors.ts";
import { claimPooled, cloudInstance } from "./instance-source.ts";
import type { InstanceWaiters } from "./instance-waiters.ts";
import type { SandboxRecord, StartStage } from "./model.ts";
import type { PodNetwork } from "./ports.ts";
import { planSandbox, renderRecord, type CreateVMInput } from "./record.ts";
import { mustSync, recoveryAction, type RecoveryOutcome } from "./recovery.ts";
import type { AgentSessions } from "./sessions.ts";
import { LifecycleSteps, type LifecycleDeps } from "./lifecycle-steps.ts";

export type { LifecycleConfig, LifecycleDeps } from "./lifecycle-steps.ts";

export class Lifecycle {
  private readonly d: LifecycleDeps;
  private readonly sessions: AgentSessions;
  private readonly steps: LifecycleSteps;

  constructor(deps: LifecycleDeps, sessions: AgentSessions, waiters: InstanceWaiters) {
    this.d = deps;
    this.sessions = sessions;
    this.steps = new LifecycleSteps(deps, sessions, waiters);
  }

  // --- CreateVM: no cloud call ------------------------------------------------------------------

  async create(input: CreateVMInput): Promise<SandboxRecord> {
    const { provider, store, network, agent, config } = this.d;
    const existing = store.get(input.id);
    if (existing && existing.stage !== "stopped") {
      throw new LifecycleError("already-exists", `sandbox ${input.id} already exists`);
    }
    const plan = planSandbox(input, config.podsDir, {
      types: provider.instanceTypes(),
      defaultType: provider.defaultInstanceType(),
      allowList: provider.allowList ? provider.allowList() : provider.instanceTypes().map((t) => t.name),
    });
    // The shims send only a fixed set of annotations; cloud_volumes comes from the pod itself.
    let cloudVolumes: CloudVolume[];
    try {
      cloudVolumes = parseCloudVolumes(
        await this.d.podAnnotations?.annotation(plan.podNamespace, plan.podName, CLOUD_VOLUMES_ANNOTATION),
      );
    } catch (err) {
      throw new LifecycleError("invalid-argument", messageOf(err), { cause: err });
    }
    // The side effects, in this order; a throw undoes the ones made (the certificate lives in memory only).
    let tunnelIndex: number | undefined;
    try {
      let podNetwork: PodNetwork | undefined;
      if (network && input.netnsPath !== "") {
        tunnelIndex = store.reserveTunnelIndex();
        try {
          podNetwork = await network.inspect(input.netnsPath, tunnelIndex);
        } catch (err) {
          throw new LifecycleError("failed", messageOf(err), { cause: err });
        }
      }
      const tls = agent ? await agent.apfTls(plan.vmName) : {};
      const authJson = await this.d.pullSecrets?.authJson(plan.podNamespace, plan.podName);
      const record = renderRecord(plan, { tunnelIndex, podNetwork, tls, authJson, cloudVolumes }, config);
      // Never a symlink: its target would get the agent socket.
      await ensurePrivateDir(record.podDir);
      await store.put(record, { durable: mustSync(record.stage) }).catch(async (err: unknown) => {
        rmSync(record.podDir, { recursive: true, force: true });
        throw err;
      });
      this.steps.started(record);
      return record;
    } finally {
      // Once the record is on disk it holds the index; until then only the reservation did.
      if (tunnelIndex !== undefined && store.get(input.id)?.tunnelIndex !== tunnelIndex)
        store.releaseTunnelIndex(tunnelIndex);
    }
  }

  // --- StartVM ----------------------------------------------------------------------------------

  async start(record: SandboxRecord, signal: AbortSignal): Promise<void> {
    const { logger } = this.d;
    const at: { stage: StartStage } = { stage: "provisioning" };
    record.lastError = undefined;
    try {
      await this.steps.enter(record, "provisioning");
      const pooled = await claimPooled(this.d, this.steps, record, signal);
      if (pooled) await this.attach(record, pooled, at, signal);
      const instance =
        pooled ??
        (await cloudInstance(this.d, this.steps, this.sessions, record, {
          attach: (i, s) => this.attach(record, i, at, s),
          onDetach: () => (at.stage = "provisioning"),
          signal,
        }));
      await this.steps.enter(record, "running");
      logger.info(
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
      const stage = at.stage;
      const code = errorCode(err);
      const detail = messageOf(err);
      const hint = stage === "agent-connect" ? this.d.provider.agentConnectHint?.() : undefined;
      const message =
        (detail.startsWith(`${stage}:`) ? detail : `${stage}: ${detail}`) + (hint ? `; ${hint}` : "");
      logger.error({ sandbox: record.id, pod: record.podName, stage, code, err: detail }, "StartVM failed");
      await this.steps.undoStart(record);
      await this.steps.fail(record, { stage, message, code });
      this.d.observer?.failed?.(record, { stage, message, code });
      throw new LifecycleError("failed", message, { code, cause: err });
    }
  }

  /** Booting (the pod network to the instance), then agent-connect: what StartVM builds on an instance. */
  private async attach(
    record: SandboxRecord,
    instance: Instance,
    at: { stage: StartStage },
    signal: AbortSignal,
  ): Promise<void> {
    const ip = instance.ips[0];
    if (!ip) throw new ProviderError(`instance ${instance.id} has no IP address`, { code: "NoAddress" });
    at.stage = "booting";
    await this.steps.enter(record, "booting", false);
    const { network } = this.d;
    if (network && record.podNetwork) await network.setup(record.netnsPath, record.podNetwork, ip);
    at.stage = "agent-connect";
    await this.steps.enter(record, "agent-connect", false);
    await this.sessions.connect({
      sandboxId: record.id,
      socketPath: record.agentSocketPath,
      vmName: record.vmName,
      ip,
      signal,
      cloudVolumes: record.cloudVolumes,
    });
  }

  // --- StopVM -----------------------------------------------------------------------------------

  /** Not bound to any caller's deadline: the Rust shim gives StopVM 1 s (docs/upstream-compat.md §1.3). */
  async stop(record: SandboxRecord): Promise<void> {
    await this.steps.enter(record, "stopping");
    await this.sessions.close(record.id);
    await this.steps.teardownNetwork(record);
    if (!(await this.steps.deleteInstance(record))) {
      // Kept in "stopping": the manager retries it (stop-retries.ts), and so does a restart's recovery.
      throw new LifecycleError(
        "failed",
        `stopping VM: deleting instance of sandbox ${record.id}: ${record.lastError?.message}`,
      );
    }
    // In place: one native call (util/private-dir.ts says why).
    rmSync(record.podDir, { recursive: true, force: true });
    // The tunnel is gone, so its index (VNI) may be handed out again.
    record.tunnelIndex = undefined;
    await this.steps.enter(record, "stopped");
    this.steps.forget(record);
    this.d.logger.info(
      { sandbox: record.id, pod: record.podName, stage: "stopped" },
      `stopped sandbox ${record.id}`,
    );
  }

  // --- restart recovery ----------------------------------------------------------------------------

  /** Bring one sandbox of a previous daemon back to a state this daemon can serve or has cleaned up. */
  async recover(record: SandboxRecord): Promise<RecoveryOutcome | undefined> {
    const { store, logger } = this.d;
    const action = recoveryAction(record, Date.now());
    switch (action) {
      case "undo-start": {
        const interruptedAt = record.stage;
        await this.undoInterruptedStart(record);
        await this.steps.fail(record, {
          stage: interruptedAt,
          message: `daemon restarted during StartVM (${interruptedAt}); its instance was deleted`,
        });
        logger.warn({ sandbox: record.id, stage: interruptedAt }, "undid a StartVM interrupted by a restart");
        return "undone";
      }
      case "reattach":
        return (await this.reattach(record)) ? "running" : "undone";
      case "finish-stop":
        return this.stop(record).then(
          () => "stopped" as const,
          (err: unknown) => {
            logger.error(
              { sandbox: record.id, err: messageOf(err) },
              "finishing an interrupted StopVM failed",
            );
            return undefined;
          },
        );
      case "prune":
        await store.delete(record.id);
        return "pruned";
      case "none":
        return undefined;
    }
  }

  /** Its caller is gone: delete the instance recorded, or those found by the owner tag if none was. */
  private async undoInterruptedStart(record: SandboxRecord): Promise<void> {
    const { provider, logger, config } = this.d;
    if (!record.instance) {
      const found: Instance[] = await provider
        .list({ cluster: config.cluster, sandboxId: record.id })
        .catch((err: unknown) => {
          logger.error(
            { sandbox: record.id, err: messageOf(err) },
            "listing instances of an interrupted sandbox failed",
          );
          return [];
        });
      for (const instance of found) {
        record.instance = { id: instance.id, name: instance.name, ips: instance.ips };
        await this.steps.deleteInstance(record);
      }
    }
    await this.steps.undoStart(record);
  }

  /** A running sandbox: check its instance still exists and serve its agent socket again. */
  private async reattach(record: SandboxRecord): Promise<boolean> {
    const { provider, logger } = this.d;
    const instance = record.instance;
    if (!instance) {
      await this.steps.undoStart(record);
      await this.steps.fail(record, {
        stage: record.stage,
        message: "running sandbox had no instance recorded",
      });
      return false;
    }
    try {
      await provider.get(instance.id);
    } catch (err) {
      if (isNotFound(err)) {
        // The VM is gone but the worker end of its tunnel is not: tear it down with the recorded IP.
        await this.sessions.close(record.id);
        await this.steps.teardownNetwork(record);
        record.instance = undefined;
        await this.steps.fail(record, {
          stage: record.stage,
          message: `instance ${instance.id} no longer exists`,
        });
        return false;
      }
      // The cloud did not answer; keep the sandbox and let the shim's calls tell.
      logger.warn(
        { sandbox: record.id, instance: instance.id, err: messageOf(err) },
        "could not check instance",
      );
    }
    const ip = instance.ips[0];
    if (ip)
      this.sessions.reconnect({
        sandboxId: record.id,
        socketPath: record.agentSocketPath,
        vmName: record.vmName,
        ip,
        cloudVolumes: record.cloudVolumes,
      });
    return true;
  }
}
