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
  // The parent is made only when missing: a `mkdir -p` of it first cost a call per sandbox
  // directory (CreateVM, then the agent socket's listen).
  const made = await mkdirOnce(dir, mode);
  if (made === "no-parent") {
    await mkdir(dirname(dir), { recursive: true });
    await mkdirOnce(dir, mode);
  }
  const st = await lstat(dir);
  if (st.isSymbolicLink())
    throw new UnsafePathError(`${dir} is a symbolic link; refusing to follow it (remove it and retry)`);
  if (!st.isDirectory()) throw new UnsafePathError(`${dir} exists and is not a directory`);
  if ((st.mode & 0o777) !== mode) await chmod(dir, mode);
}

/** mkdir without following a symlink at `dir` (EEXIST then, and the caller's lstat refuses it). */
async function mkdirOnce(dir: string, mode: number): Promise<"made" | "exists" | "no-parent"> {
  try {
    await mkdir(dir, { mode });
    return "made";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return "exists";
    if (code === "ENOENT") return "no-parent";
    throw err;
  }
}
