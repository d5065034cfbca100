// A CreateVM makes the sandbox's directory under PODS_DIR just before it saves the record; a daemon
// killed between the two leaves a directory that no record names and no shim was told about (its
// CreateVM got no answer). Recovery removes such directories, each under the sandbox's lock so a
// CreateVM of the same id running meanwhile is never touched.
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { validateSandboxId } from "./validate.ts";

function isSandboxId(name: string): boolean {
  try {
    validateSandboxId(name);
    return true;
  } catch {
    return false;
  }
}

/** Names under podsDir that look like sandbox directories (real directories, not symlinks). */
export async function podDirNames(podsDir: string): Promise<string[]> {
  const names = await readdir(podsDir).catch(() => [] as string[]);
  const dirs: string[] = [];
  for (const name of names.filter(isSandboxId)) {
    const st = await lstat(join(podsDir, name)).catch(() => undefined);
    if (st?.isDirectory()) dirs.push(name);
  }
  return dirs;
}

/**
 * Remove the directories of `names` that `known` does not claim, each under `lock`. Returns the
 * names removed.
 */
export async function removeStrayPodDirs(
  podsDir: string,
  names: string[],
  known: (id: string) => boolean,
  lock: <T>(id: string, fn: () => Promise<T>) => Promise<T>,
): Promise<string[]> {
  const removed: string[] = [];
  await Promise.all(
    names
      .filter((n) => !known(n))
      .map((n) =>
        lock(n, async () => {
          if (known(n)) return;
          await rm(join(podsDir, n), { recursive: true, force: true });
          removed.push(n);
        }),
      ),
  );
  return removed.sort();
}
