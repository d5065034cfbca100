// The command that boots a local VM. By default it is the pod-VM bundle (src/podvm/bundle.ts),
// as a real pod VM runs it: one bundle that starts in a fraction of the CLI's time. From the built
// tree that is dist/podvm/caa-podvm.cjs; from the sources it is built once per source state into
// a cache, so a VM never runs code older than the daemon's. Where neither works the VM boots from
// `caa podvm` and the log says why.
import { createHash } from "node:crypto";
import { readdir, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PODVM_NODE_FLAGS } from "../../src/podvm/node-flags.ts";
import type { ProviderLogger as Logger } from "../types.ts";
import { podNetnsOf } from "./vm-network.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FROM_SOURCE = import.meta.url.endsWith(".ts");
/** The repository (from source) or the build output root (dist/). */
const ROOT = path.resolve(HERE, "../..");
const CLI = path.join(ROOT, "src/cli", FROM_SOURCE ? "main.ts" : "main.js");
const BUNDLE_NAME = "caa-podvm.cjs";

const exists = (file: string): Promise<boolean> =>
  stat(file).then(
    () => true,
    () => false,
  );

/** Sizes and times of every source file the bundle may include: its cache key. */
async function sourceKey(): Promise<string> {
  const hash = createHash("sha256");
  for (const dir of ["src", "providers"]) {
    const entries = await readdir(path.join(ROOT, dir), { recursive: true, withFileTypes: true });
    for (const e of entries.filter((x) => x.isFile() && x.name.endsWith(".ts")).sort(byPath)) {
      const file = path.join(e.parentPath, e.name);
      const st = await stat(file);
      hash.update(`${file}\0${st.size}\0${st.mtimeMs}\n`);
    }
  }
  const lock = await stat(path.join(ROOT, "package-lock.json")).catch(() => undefined);
  hash.update(`lock\0${lock?.mtimeMs ?? 0}`);
  return hash.digest("hex").slice(0, 16);
}

function byPath(a: { parentPath: string; name: string }, b: { parentPath: string; name: string }): number {
  const x = path.join(a.parentPath, a.name);
  const y = path.join(b.parentPath, b.name);
  return x < y ? -1 : x > y ? 1 : 0;
}

async function bundleFromSource(): Promise<string> {
  const dir = path.join(tmpdir(), "caa-podvm-bundles", await sourceKey());
  const file = path.join(dir, BUNDLE_NAME);
  if (await exists(file)) return file;
  const { bundlePodVm } = await import("../../src/podvm/bundle.ts");
  // Built beside and renamed: daemons starting together never run a half-written bundle. The
  // first rename wins; the others find the directory taken and use it.
  const partial = `${dir}.${process.pid}.${Date.now()}.tmp`;
  await bundlePodVm(partial);
  try {
    await rename(partial, dir);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    if (!(await exists(file))) throw err;
  }
  return file;
}

/**
 * `node <pod VM's flags> <bundle> podvm` (as dist/podvm/caa-podvm runs it), or `node <cli> podvm`
 * with a log line saying why not the bundle.
 */
export async function podVmBootCommand(logger: Logger): Promise<string> {
  const node = process.execPath;
  const flags = PODVM_NODE_FLAGS.join(" ");
  if (!FROM_SOURCE) {
    const bundle = path.join(ROOT, "podvm", BUNDLE_NAME);
    if (await exists(bundle)) return `${node} ${flags} ${bundle} podvm`;
    logger.warn(
      { bundle },
      `local provider: pod-VM bundle ${bundle} is missing (npm run build makes it); VMs boot from ${CLI}, which starts slower`,
    );
    return `${node} ${CLI} podvm`;
  }
  try {
    const bundle = await bundleFromSource();
    logger.info({ bundle }, "local provider: VMs boot the pod-VM bundle built from the sources");
    return `${node} ${flags} ${bundle} podvm`;
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      `local provider: cannot bundle the pod-VM side (${(err as Error).message}); VMs boot from ${CLI}, which starts slower`,
    );
    return `${node} ${CLI} podvm`;
  }
}

/**
 * The arguments of `podvm` for one VM. The cidata path is also the VM's mark: a daemon killed
 * between the spawn and the save of the pid finds the process by it when the VM is deleted.
 */
export function podVmArgs(vm: {
  cidata: string;
  root: string;
  listen: string;
  agentCommand: string;
  bootDelayMs: number;
  netns?: string;
}): string[] {
  const args = ["--cidata", vm.cidata, "--root", vm.root, "--listen", vm.listen];
  args.push("--agent-command", vm.agentCommand, "--boot-delay", `${vm.bootDelayMs}ms`);
  if (vm.netns)
    args.push("--vm-netns", vm.netns, "--pod-netns", podNetnsOf(vm.netns), "--host-interface", "eth0");
  return args;
}
