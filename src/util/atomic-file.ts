// Replace a file atomically and durably: write a temp file, fsync it, rename it over the target,
// fsync the directory. A crash leaves either the old or the new content, never a torn file.
// Only the fsyncs wait on the thread pool: the open, write, close and rename of a record of a few
// KiB are done in place, as each costs microseconds in the kernel (the state directory is on the
// node's tmpfs by default, and on a disk they reach only the page cache) where a thread-pool round
// trip costs a thread wake-up and a callback; the daemon writes six records per sandbox
// (BENCHMARKS.md, AWS burst).
import { closeSync, fsync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
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
  const fd = openSync(tmp, "wx", mode);
  try {
    try {
      // Given a descriptor, writeFileSync writes all of data (repeating short writes) and leaves it open.
      writeFileSync(fd, data);
      if (durable) await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    // A full disk (ENOSPC) must not leave a torn temp file behind for as long as the daemon runs.
    rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) await (syncDir ? syncDir() : fsyncPath(dirname(file)));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export async function fsyncPath(path: string): Promise<void> {
  const fd = openSync(path, "r");
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
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
