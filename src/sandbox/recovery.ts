// After a restart (a crash, `kill -9`, an upgrade) the daemon knows every sandbox from its records.
// Running sandboxes are served again; a StartVM that was cut off is undone through the provider;
// a StopVM that was cut off is finished. Upstream keeps all of this in memory and loses it
// (users-and-clouds.md §1.2).
import { isNotFound } from "../../providers/errors.ts";
import type { Instance } from "../../providers/types.ts";
import { errorMessage, type SandboxManager } from "./manager.ts";
import type { SandboxRecord } from "./model.ts";

/** Tombstones of stopped sandboxes keep repeated StopVMs idempotent for this long. */
const STOPPED_RETENTION_MS = 60 * 60 * 1000;

export interface RecoveryReport {
  running: string[];
  undone: string[];
  stopped: string[];
  pruned: string[];
}

export async function recoverSandboxes(manager: SandboxManager): Promise<RecoveryReport> {
  const { store, logger } = manager.deps;
  const report: RecoveryReport = { running: [], undone: [], stopped: [], pruned: [] };
  for (const record of store.all()) {
    switch (record.stage) {
      case "provisioning":
      case "booting":
      case "agent-connect":
        await undoInterruptedStart(manager, record);
        report.undone.push(record.id);
        break;
      case "running":
        if (await reattach(manager, record)) report.running.push(record.id);
        else report.undone.push(record.id);
        break;
      case "stopping":
        await manager.resumeStop(record.id).catch((err: unknown) => {
          logger.error(
            { sandbox: record.id, err: errorMessage(err) },
            "finishing an interrupted StopVM failed",
          );
        });
        report.stopped.push(record.id);
        break;
      case "stopped":
        if (Date.now() - Date.parse(record.updatedAt) > STOPPED_RETENTION_MS) {
          await store.delete(record.id);
          report.pruned.push(record.id);
        }
        break;
      default:
        break;
    }
  }
  logger.info({ ...countOf(report) }, "recovered sandboxes from the state directory");
  return report;
}

/**
 * A StartVM cut off by the restart: its caller is gone, so delete whatever instance it made —
 * the one recorded, or one found by the sandbox's owner tag if the daemon died inside the cloud call.
 */
async function undoInterruptedStart(manager: SandboxManager, record: SandboxRecord): Promise<void> {
  const { provider, logger, config } = manager.deps;
  const interruptedAt = record.stage;
  if (!record.instance) {
    const found: Instance[] = await provider
      .list({ cluster: config.cluster, sandboxId: record.id })
      .catch((err: unknown) => {
        logger.error(
          { sandbox: record.id, err: errorMessage(err) },
          "listing instances of an interrupted sandbox failed",
        );
        return [];
      });
    for (const instance of found) {
      record.instance = { id: instance.id, name: instance.name, ips: instance.ips };
      await manager.deleteInstance(record);
    }
  }
  await teardownAndFail(
    manager,
    record,
    `daemon restarted during StartVM (${interruptedAt}); its instance was deleted`,
  );
  logger.warn({ sandbox: record.id, stage: interruptedAt }, "undid a StartVM interrupted by a restart");
}

/** A running sandbox: check its instance still exists and serve its agent socket again. */
async function reattach(manager: SandboxManager, record: SandboxRecord): Promise<boolean> {
  const { provider, agent, logger } = manager.deps;
  const instance = record.instance;
  if (!instance) {
    await teardownAndFail(manager, record, "running sandbox had no instance recorded");
    return false;
  }
  try {
    await provider.get(instance.id);
  } catch (err) {
    if (!isNotFound(err)) {
      // The cloud did not answer; keep the sandbox and let the shim's calls tell.
      logger.warn(
        { sandbox: record.id, instance: instance.id, err: errorMessage(err) },
        "could not check instance",
      );
    } else {
      record.instance = undefined;
      await teardownAndFail(manager, record, `instance ${instance.id} no longer exists`);
      return false;
    }
  }
  if (agent && instance.ips[0]) {
    manager.reconnect(record, instance.ips[0]);
  }
  return true;
}

async function teardownAndFail(
  manager: SandboxManager,
  record: SandboxRecord,
  message: string,
): Promise<void> {
  await manager.undoAfterRestart(record);
  record.lastError = { stage: record.stage, message };
  await manager.enter(record, "failed");
}

function countOf(report: RecoveryReport): Record<string, number> {
  return Object.fromEntries(Object.entries(report).map(([k, v]) => [k, (v as string[]).length]));
}
