// Directories the daemon creates under PODS_DIR and STATE_DIR hold sockets, keys and records. A
// symlink planted at one of those paths would make us create (and serve) them inside its target, so
// every such directory is made without following a symlink and checked to be a real directory.
import { chmodSync, lstatSync, mkdirSync } from "node:fs";
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
  // In place, not on the thread pool: a metadata call costs microseconds, a thread-pool round trip
  // more (util/atomic-file.ts). The sandbox's directory is made by CreateVM and found by StartVM.
  let st = lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined) {
    // The parent is made only when missing: a `mkdir -p` of it first cost a call per sandbox.
    if (mkdirOnce(dir, mode) === "no-parent") {
      mkdirSync(dirname(dir), { recursive: true });
      mkdirOnce(dir, mode);
    }
    st = lstatSync(dir);
  }
  if (st.isSymbolicLink())
    throw new UnsafePathError(`${dir} is a symbolic link; refusing to follow it (remove it and retry)`);
  if (!st.isDirectory()) throw new UnsafePathError(`${dir} exists and is not a directory`);
  if ((st.mode & 0o777) !== mode) chmodSync(dir, mode);
}

/** mkdir without following a symlink at `dir` (EEXIST then, and the caller's lstat refuses it). */
function mkdirOnce(dir: string, mode: number): "made" | "exists" | "no-parent" {
  try {
    mkdirSync(dir, { mode });
    return "made";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return "exists";
    if (code === "ENOENT") return "no-parent";
    throw err;
  }
}
