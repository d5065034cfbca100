// A small tmpfs of our own under a daemon's state directory (the disk-full scenario), and a file
// that fills it. Any target can use it: the state directory is on the node in every provider.
import { execFile } from "node:child_process";
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);
const FILLER = ".chaos-filler";

export async function mountTmpfs(dir: string, bytes: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await exec("mount", ["-t", "tmpfs", "-o", `size=${bytes},mode=0700`, "caa-chaos-tmpfs", dir]);
}

export async function unmountTmpfs(dir: string): Promise<void> {
  const { stdout } = await exec("findmnt", ["-n", "-o", "SOURCE", "--mountpoint", dir]).catch(() => ({
    stdout: "",
  }));
  if (stdout.trim() !== "caa-chaos-tmpfs") return;
  // Lazy: a VM process of a failed run may still hold a file open in it.
  await exec("umount", ["-l", dir]);
}

/** Write to `dir` until it is full; returns the bytes written. */
export async function fill(dir: string): Promise<number> {
  const fh = await open(join(dir, FILLER), "a", 0o600);
  const chunk = Buffer.alloc(64 * 1024, 0x2e);
  let written = 0;
  try {
    for (;;) {
      try {
        const { bytesWritten } = await fh.write(chunk);
        written += bytesWritten;
        if (bytesWritten < chunk.length) break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
        throw err;
      }
    }
  } finally {
    await fh.close();
  }
  return written;
}

export async function unfill(dir: string): Promise<void> {
  await rm(join(dir, FILLER), { force: true });
}
