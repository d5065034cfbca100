// Warm-pool mode of the forwarder (protocol in src/userdata/pool.ts): a VM that booted with only the
// pool bootstrap file waits for one Bind carrying the pod's user-data (pool-serve.ts) before it starts
// as after a cold boot. This file is the check every boot makes; the rest loads only on a pooled VM.
import { readFile } from "../util/lean-fs.ts";
import path from "node:path";
import type { Logger } from "../log/logger.ts";
import { POOL_PATHS, parsePoolBootstrap, type PoolBootstrap } from "../userdata/pool.ts";
import type { PoolBindOptions } from "./pool-serve.ts";

/** The VM's pool bootstrap, or undefined when it booted with a pod's user-data (the cold path). */
export async function readPoolBootstrap(rootDir: string): Promise<PoolBootstrap | undefined> {
  const file = path.join(rootDir, POOL_PATHS.bootstrap);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return parsePoolBootstrap(text);
}

/** "bound", "binding" (a bind was cut off: the VM is spent), or undefined when never bound. */
async function bindMarker(rootDir: string): Promise<string | undefined> {
  return readFile(path.join(rootDir, POOL_PATHS.bound), "utf8").then(
    (text) => text.trim(),
    () => undefined,
  );
}

/**
 * The forwarder's one hook: a VM that booted with a pool bootstrap waits here for its bind; one that
 * booted with a pod's user-data (or was bound before this forwarder restarted) goes straight on.
 */
export async function bindIfPooled(
  cfg: { rootDir: string; tpmDevice: string },
  listen: PoolBindOptions["listen"],
  logger: Logger,
  signal: AbortSignal | undefined,
  onListening?: () => void,
): Promise<void> {
  const bootstrap = await readPoolBootstrap(cfg.rootDir);
  if (bootstrap === undefined) return;
  const marker = await bindMarker(cfg.rootDir);
  if (marker === "bound") return;
  const { PoolBindError, awaitPoolBind } = await import("./pool-serve.ts");
  if (marker !== undefined)
    throw new PoolBindError("pool VM: a bind was interrupted before it finished; this VM must be deleted");
  await awaitPoolBind(bootstrap, {
    rootDir: cfg.rootDir,
    listen,
    tpmDevice: cfg.tpmDevice,
    logger,
    signal,
    onListening,
  });
}
