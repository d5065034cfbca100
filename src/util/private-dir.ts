// Directories the daemon creates under PODS_DIR and STATE_DIR hold sockets, keys and records. A
// symlink planted at one of those paths would make us create (and serve) them inside its target, so
// every such directory is made without following a symlink and checked to be a real directory.
import { chmod, lstat, mkdir } from "node:fs/promises";
import { dirname } from "node:path";

export class UnsafePathError extends Error {
  override name = "UnsafePathError";
}

/**
 * Create `dir` (mode 0700) if missing, its parent with `mkdir -p`, and refuse it when it is a
 * symlink or not a directory. The parent is the operator's choice (PODS_DIR, STATE_DIR) and may
 * itself be a symlink; what the daemon creates below it may not.
 */
export async function ensurePrivateDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  try {
    await mkdir(dir, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = await lstat(dir);
  if (st.isSymbolicLink())
    throw new UnsafePathError(`${dir} is a symbolic link; refusing to follow it (remove it and retry)`);
  if (!st.isDirectory()) throw new UnsafePathError(`${dir} exists and is not a directory`);
  if ((st.mode & 0o777) !== mode) await chmod(dir, mode);
}
