// Durable sandbox records: one file per sandbox, replaced atomically (write a temp file, fsync,
// rename, fsync the directory), so a crash at any point leaves either the old or the new record.
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { ensurePrivateDir } from "../util/private-dir.ts";
import { loadRecords, type Quarantined } from "../util/record-dir.ts";
import type { SandboxRecord } from "./model.ts";

const SUFFIX = ".json";

export class SandboxStore {
  readonly dir: string;
  private readonly records = new Map<string, SandboxRecord>();
  private readonly reserved = new Set<number>();
  /** Records that could not be read at open(), moved aside (the daemon logs and announces them). */
  quarantined: Quarantined[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Open (creating if needed) the store and load every readable record in it. */
  static async open(dir: string): Promise<SandboxStore> {
    await ensurePrivateDir(dir);
    const store = new SandboxStore(dir);
    const loaded = await loadRecords<SandboxRecord>(dir, SUFFIX);
    for (const record of loaded.records) store.records.set(record.id, record);
    store.quarantined = loaded.quarantined;
    return store;
  }

  get(id: string): SandboxRecord | undefined {
    return this.records.get(id);
  }

  all(): SandboxRecord[] {
    return [...this.records.values()];
  }

  /** Persist a record; resolves once it is on disk. */
  async put(record: SandboxRecord): Promise<void> {
    record.updatedAt = new Date().toISOString();
    await writeFileAtomic(join(this.dir, record.id + SUFFIX), JSON.stringify(record));
    this.records.set(record.id, record);
    if (record.tunnelIndex !== undefined) this.reserved.delete(record.tunnelIndex);
  }

  async delete(id: string): Promise<void> {
    await rm(join(this.dir, id + SUFFIX), { force: true });
    await this.syncDir();
    this.records.delete(id);
  }

  /**
   * Reserve the smallest tunnel index that no recorded sandbox holds and no CreateVM in flight has
   * reserved. Upstream resets its counter on restart and hands out VNIs still in use; ours come
   * from the records on disk.
   */
  reserveTunnelIndex(): number {
    const used = new Set<number>(this.reserved);
    for (const r of this.records.values()) if (r.tunnelIndex !== undefined) used.add(r.tunnelIndex);
    let i = 0;
    while (used.has(i)) i++;
    this.reserved.add(i);
    return i;
  }

  releaseTunnelIndex(index: number): void {
    this.reserved.delete(index);
  }

  private async syncDir(): Promise<void> {
    const fh = await open(this.dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
