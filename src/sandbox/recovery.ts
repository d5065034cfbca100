// After a restart (a crash, `kill -9`, an upgrade) the daemon knows every sandbox from its records.
// What to do with each is decided here, from its recorded stage; the lifecycle (lifecycle.ts) does
// it under the sandbox's lock while the daemon already serves (manager.ts recover()). Upstream
// keeps all of this in memory and loses it (docs/background.md §1.2).
import type { SandboxRecord } from "./model.ts";

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

/** Sandboxes recovered at once: each makes a cloud call or two, and the cloud's API is shared. */
export const RECOVERY_CONCURRENCY = 8;

export function emptyReport(): RecoveryReport {
  return { running: [], undone: [], stopped: [], pruned: [] };
}

export function countOf(report: RecoveryReport): Record<string, number> {
  return Object.fromEntries(Object.entries(report).map(([k, v]) => [k, (v as string[]).length]));
}
