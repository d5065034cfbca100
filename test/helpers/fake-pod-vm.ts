// A pod VM played on this host for the cloud tests: cloud "VMs" (moto, the ARM emulator) run
// nothing, so the test reads a VM's user-data back from the cloud API and boots the test agent plus
// `caa forwarder` with it on 127.0.0.1 (FORWARDER_HOST points the daemon there, never at the
// cloud's addresses).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CLI } from "./daemon.ts";
import { teeChild } from "./test-logs.ts";

const TEST_AGENT = fileURLToPath(new URL("../../providers/local/kata-agent.ts", import.meta.url));

/**
 * Boot one fake VM under dir/<name>; stop it with stopFakeVm. `forwarder` is the command before the
 * forwarder's flags: `caa forwarder` from the sources, or e.g. a build's pod-VM launcher.
 */
export async function bootFakeVm(
  dir: string,
  userData: string,
  port: number,
  name = "vm",
  forwarder: readonly string[] = [process.execPath, CLI, "forwarder"],
): Promise<ChildProcess[]> {
  const root = join(dir, `${name}-root`);
  const cidata = join(dir, `${name}-cidata`);
  await mkdir(cidata, { recursive: true });
  await mkdir(join(root, "run/kata-containers"), { recursive: true });
  await writeFile(join(cidata, "user-data"), userData, { mode: 0o600 });
  const agentSocket = join(root, "run/kata-containers/agent.sock");
  const agent = spawn(process.execPath, [TEST_AGENT, "--socket", agentSocket], { stdio: "ignore" });
  const [command, ...args] = forwarder;
  const fwd = spawn(
    command,
    [
      ...args,
      "-listen",
      `127.0.0.1:${port}`,
      "-cidata-dir",
      cidata,
      "-root-dir",
      root,
      "-kata-agent-socket",
      agentSocket,
      "-imds",
      "none",
      "-no-pod-network",
    ],
    // A pod-VM launcher runs the `node` on PATH, as in a pod VM: this one.
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` },
    },
  );
  teeChild(fwd, `fake-pod-vm-${name}-forwarder`);
  return [agent, fwd];
}

/** SIGTERM each process and wait until it has exited (its port is free again). */
export async function stopFakeVm(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
      p.kill("SIGTERM");
      await exited;
    }),
  );
}
