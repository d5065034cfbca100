// Durable sandbox records: one file per sandbox, replaced atomically (write a temp file, fsync,
// rename, fsync the directory), so a crash at any point leaves either the old or the new record.
// Concurrent writes share the directory's fsync (DirSync); which writes skip the fsyncs is the
// lifecycle's call (lifecycle-steps.ts, docs/architecture.md "Sandbox records").
import { statfsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { DirSync, writeFileAtomic } from "../util/atomic-file.ts";
import { ensurePrivateDir } from "../util/private-dir.ts";
import { loadRecords, type Quarantined } from "../util/record-dir.ts";
import type { SandboxRecord } from "./model.ts";

const SUFFIX = ".json";

/** statfs f_type of the file systems that live in memory (linux/magic.h): an fsync there does nothing. */
const IN_MEMORY_FS = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);

function inMemory(dir: string): boolean {
  try {
    return IN_MEMORY_FS.has(statfsSync(dir).type);
  } catch {
    return false;
  }
}

export class SandboxStore {
  readonly dir: string;
  private readonly records = new Map<string, SandboxRecord>();
  private readonly reserved = new Set<number>();
  private readonly dirSync: DirSync;
  /**
   * false when the directory is on tmpfs (the default /run/peerpod on a node): nothing there
   * outlives the machine, so the fsyncs that make a record survive its crash are skipped (no-ops
   * that still cost a thread-pool round trip each).
   */
  readonly fsyncs: boolean;
  /** Records that could not be read at open(), moved aside (the daemon logs and announces them). */
  quarantined: Quarantined[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.dirSync = new DirSync(dir);
    this.fsyncs = !inMemory(dir);
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

  /**
   * Persist a record; resolves once it is on disk, or with `durable: false` once it is in the
   * kernel's hands (atomic and kill -9-safe, but a crash of the machine may bring back the
   * previous record).
   */
  async put(record: SandboxRecord, opts: { durable?: boolean } = {}): Promise<void> {
    record.updatedAt = new Date().toISOString();
    await writeFileAtomic(join(this.dir, record.id + SUFFIX), JSON.stringify(record), {
      durable: opts.durable !== false && this.fsyncs,
      syncDir: () => this.dirSync.sync(),
    });
    this.records.set(record.id, record);
    if (record.tunnelIndex !== undefined) this.reserved.delete(record.tunnelIndex);
  }

  async delete(id: string): Promise<void> {
    await rm(join(this.dir, id + SUFFIX), { force: true });
    if (this.fsyncs) await this.dirSync.sync();
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
}
