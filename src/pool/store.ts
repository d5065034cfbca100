// Durable records of pooled VMs: one JSON file per pool slot under <STATE_DIR>/pool/, written
// before and after every cloud call and at every claim, so a restarted daemon knows every pooled
// VM (the leak collector deletes a pool-tagged VM nobody records).
import { rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { ensurePrivateDir } from "../util/private-dir.ts";
import { loadRecords, type Quarantined } from "../util/record-dir.ts";

/**
 * creating: the cloud call may be in flight (no instance id yet); booting: created, not answering
 * yet; ready: unbound and answering; claimed: handed to a sandbox whose record may not hold it yet.
 */
export type PoolVmState = "creating" | "booting" | "ready" | "claimed";

export interface PoolRecord {
  /** Pool slot id, also the instance's `peerpod-sandbox-id` tag (so a create is idempotent). */
  slot: string;
  key: string;
  instanceType: string;
  image: string;
  /** VM name: CN of its bootstrap certificate. */
  name: string;
  /** bootstrapFingerprint of the certificate it booted with (the bind is pinned to it). */
  fingerprint: string;
  state: PoolVmState;
  instance?: { id: string; ips: string[] };
  createdAt: string;
  readyAt?: string;
  claimedBy?: string;
}

export class PoolStore {
  private readonly dir: string;
  private readonly records = new Map<string, PoolRecord>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Records that could not be read at open(), moved aside (the pool logs them). */
  quarantined: Quarantined[] = [];

  static async open(dir: string): Promise<PoolStore> {
    await ensurePrivateDir(dir);
    const store = new PoolStore(dir);
    const loaded = await loadRecords<PoolRecord>(dir, ".json", slotCheck);
    for (const rec of loaded.records) store.records.set(rec.slot, rec);
    store.quarantined = loaded.quarantined;
    return store;
  }

  all(): PoolRecord[] {
    return [...this.records.values()];
  }

  get(slot: string): PoolRecord | undefined {
    return this.records.get(slot);
  }

  async put(rec: PoolRecord): Promise<void> {
    await writeFileAtomic(path.join(this.dir, `${rec.slot}.json`), JSON.stringify(rec));
    this.records.set(rec.slot, rec);
  }

  async delete(slot: string): Promise<void> {
    await rm(path.join(this.dir, `${slot}.json`), { force: true });
    this.records.delete(slot);
  }
}

/** A pool record is an object whose `slot` names its file (`pool-<hex>.json`). */
function slotCheck(value: unknown, name: string): string | undefined {
  const slot = (value as { slot?: unknown } | null)?.slot;
  if (typeof slot !== "string" || !/^pool-[0-9a-f]+$/.test(slot)) return "the record has no pool slot";
  return `${slot}.json` === name
    ? undefined
    : `its slot ${JSON.stringify(slot)} does not match the file name`;
}
