// Replace a file atomically and durably: write a temp file, fsync it, rename it over the target,
// fsync the directory. A crash leaves either the old or the new content, never a torn file.
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

export interface AtomicWriteOptions {
  mode?: number;
  /**
   * false: write and rename only, no fsync. Still atomic, and a crash of the process (kill -9)
   * still finds the new content (the kernel holds it); only a crash of the machine may bring back
   * the previous content. For records whose loss recovery repairs by redoing an idempotent step.
   */
  durable?: boolean;
  /** The directory's fsync, e.g. a DirSync shared by the writers of that directory. */
  syncDir?: () => Promise<void>;
}

export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const { mode = 0o600, durable = true, syncDir } = opts;
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  // "wx": the temp file is always new, never something planted at its name (a symlink, say).
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    // A full disk (ENOSPC) must not leave a torn temp file behind for as long as the daemon runs.
    await rm(tmp, { force: true });
    throw err;
  }
  if (durable) await (syncDir ? syncDir() : fsyncPath(dirname(file)));
}

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The fsync of one directory, shared by its concurrent writers (a group commit): a caller whose
 * rename is done joins the next fsync that has not started yet, or starts one, so a burst of
 * records in one directory pays one directory fsync per round instead of one per record. A fsync
 * that started before the caller's rename is never joined: it might not cover it.
 */
export class DirSync {
  readonly dir: string;
  readonly #fsync: (dir: string) => Promise<void>;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  /** `fsync`: how the directory is synced (tests count the calls). */
  constructor(dir: string, fsync: (dir: string) => Promise<void> = fsyncPath) {
    this.dir = dir;
    this.#fsync = fsync;
  }

  sync(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#start();
    const next = this.#running
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        return this.#start();
      });
    this.#next = next;
    return next;
  }

  #start(): Promise<void> {
    const run = this.#fsync(this.dir).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }
}
