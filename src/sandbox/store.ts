// Durable sandbox records: one file per sandbox, replaced atomically (write a temp file, fsync,
// rename, fsync the directory), so a crash at any point leaves either the old or the new record.
import { chmod, mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import type { SandboxRecord } from "./model.ts";

const SUFFIX = ".json";

export class SandboxStore {
  readonly dir: string;
  private readonly records = new Map<string, SandboxRecord>();
  private readonly reserved = new Set<number>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Open (creating if needed) the store and load every record in it. */
  static async open(dir: string): Promise<SandboxStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const store = new SandboxStore(dir);
    for (const name of await readdir(dir)) {
      if (name.endsWith(".tmp")) {
        await rm(join(dir, name), { force: true });
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      const text = await readFile(join(dir, name), "utf8");
      const record = JSON.parse(text) as SandboxRecord;
      store.records.set(record.id, record);
    }
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
