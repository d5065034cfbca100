// After a restart (a crash, `kill -9`, an upgrade) the daemon knows every sandbox from its records.
// What to do with each is decided here, from its recorded stage; the lifecycle (lifecycle.ts) does
// it under the sandbox's lock while the daemon already serves (manager.ts recover()). Upstream
// keeps all of this in memory and loses it (docs/background.md §1.2).
import type { SandboxRecord, Stage } from "./model.ts";

/** Tombstones of stopped sandboxes keep repeated StopVMs idempotent for this long. */
export const STOPPED_RETENTION_MS = 60 * 60 * 1000;

/**
 * undo-start: a StartVM was cut off; its caller is gone, so delete what it made and fail it.
 * reattach: running; check the instance and serve the agent socket again.
 * finish-stop: a StopVM was cut off; finish it. prune: an old tombstone.
 */
export type RecoveryAction = "undo-start" | "reattach" | "finish-stop" | "prune" | "none";
export type RecoveryOutcome = "running" | "undone" | "stopped" | "pruned";

export interface RecoveryReport {
  running: string[];
  undone: string[];
  stopped: string[];
  pruned: string[];
}

export function recoveryAction(record: SandboxRecord, now: number): RecoveryAction {
  switch (record.stage) {
    case "provisioning":
    case "booting":
    case "agent-connect":
      return "undo-start";
    case "running":
      return "reattach";
    case "stopping":
      return "finish-stop";
    case "stopped":
      return now - Date.parse(record.updatedAt) > STOPPED_RETENTION_MS ? "prune" : "none";
    default:
      return "none";
  }
}

/**
 * Whether a record entering `stage` must reach the disk (fsync) before the lifecycle goes on, or
 * only the kernel. Every write is an atomic rename, so a restart of the daemon (kill -9 included)
 * always reads the newest record; an fsync matters only when the machine itself goes down, and the
 * node's shims (and local VMs) go down with it. A record may then come back one write older, which
 * needs no fsync where recovery from the older record is still right:
 * - created: back to none (or the tombstone before it); nothing exists in the cloud or the network
 *   yet, and the pod directory left behind is a stray one that recovery removes.
 * - running (and the instance recorded before it, LifecycleSteps.recordInstance): back to
 *   provisioning, with no instance; recovery undoes the start and deletes the instance it finds by
 *   the sandbox's owner tags, which is what a sandbox whose shim died with the machine needs.
 * - stopped: back to stopping; recovery finishes the stop again (deleting an instance that is gone
 *   succeeds).
 * The others stay durable: provisioning comes before the cloud call that creates (recovery must
 * look for what it made), stopping before the one that deletes, failed is rare.
 */
export function mustSync(stage: Stage): boolean {
  return stage !== "created" && stage !== "running" && stage !== "stopped";
}

/** Sandboxes recovered at once: each makes a cloud call or two, and the cloud's API is shared. */
export const RECOVERY_CONCURRENCY = 8;

export function emptyReport(): RecoveryReport {
  return { running: [], undone: [], stopped: [], pruned: [] };
}

export function countOf(report: RecoveryReport): Record<string, number> {
  return Object.fromEntries(Object.entries(report).map(([k, v]) => [k, (v as string[]).length]));
}
