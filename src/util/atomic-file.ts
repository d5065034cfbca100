// Replace a file atomically and durably: write a temp file, fsync it, rename it over the target,
// fsync the directory. A crash leaves either the old or the new content, never a torn file.
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  // "wx": the temp file is always new, never something planted at its name (a symlink, say).
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    // A full disk (ENOSPC) must not leave a torn temp file behind for as long as the daemon runs.
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
