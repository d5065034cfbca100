// `caa podvm`: the boot chain of a local VM, in the order a real pod VM runs it
// (docs/upstream-compat.md §5.1): the kata agent, then process-user-data and the agent-protocol-forwarder
// (provisioning is the forwarder's first step). Runs inside the VM's network namespace (or, without
// root, on the VM's loopback address).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../log/logger.ts";
import { runForwarder, type ForwarderHandle } from "../forwarder/index.ts";
import { splitCommand } from "../util/command.ts";

export interface PodVmOptions {
  cidata: string;
  root: string;
  listen: string;
  agentCommand: string;
  bootDelayMs: number;
  /** The VM's own namespace (local provider), if it has one. */
  vmNetns?: string;
  /** The pod namespace in the VM: `/run/netns/podns` on a real VM; one per VM on a shared host. */
  podNetns?: string;
  hostInterface?: string;
}

export interface PodVm {
  stop(): Promise<void>;
}

function startAgent(command: string, socket: string, record: string, logger: Logger): ChildProcess {
  const [exe, ...args] = splitCommand(command);
  const child = spawn(exe, [...args, "--socket", socket, "--record", record], { stdio: "inherit" });
  child.on("exit", (code, signal) => logger.info({ code, signal }, "kata agent exited"));
  return child;
}

export async function bootPodVm(opts: PodVmOptions, logger: Logger): Promise<PodVm> {
  await mkdir(opts.root, { recursive: true, mode: 0o755 });
  if (opts.bootDelayMs > 0) await new Promise((r) => setTimeout(r, opts.bootDelayMs));
  const agentSocket = join(opts.root, "run/kata-containers/agent.sock");
  await mkdir(join(opts.root, "run/kata-containers"), { recursive: true });
  const agent =
    opts.agentCommand !== ""
      ? startAgent(opts.agentCommand, agentSocket, join(opts.root, "agent-calls.jsonl"), logger)
      : undefined;
  let forwarder: ForwarderHandle | undefined;
  try {
    forwarder = await runForwarder(
      {
        listen: opts.listen,
        kataAgentSocket: agentSocket,
        podNamespace: opts.podNetns ?? "podns",
        hostInterface: opts.hostInterface ?? "",
        rootDir: opts.root,
        cidataDir: opts.cidata,
        imds: "none",
        noPodNetwork: opts.vmNetns === undefined,
        // A local VM shares the host's /dev: never measure into the host's TPM.
        tpmDevice: join(opts.root, "dev/tpmrm0"),
      },
      logger,
    );
  } catch (err) {
    agent?.kill("SIGTERM");
    throw err;
  }
  await writeFile(join(opts.root, "booted"), new Date().toISOString());
  logger.info({ root: opts.root, listen: forwarder.address }, "pod VM booted");
  return {
    async stop() {
      await forwarder?.close();
      agent?.kill("SIGTERM");
    },
  };
}
