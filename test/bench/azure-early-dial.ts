// Azure early dial, through `caa serve` on the azure provider against the ARM emulator: the VM PUT's
// long-running operation stays `Creating` for `lroMs` while the pod VM (a fake VM on 127.0.0.1:
// the test agent plus `caa forwarder` with the VM's user-data) is booted `forwarderAtMs` after the
// PUT, as a real VM answers before ARM reports it Succeeded. StartVM with the private address (the
// early dial) against the baseline in the same run: USE_PUBLIC_IP=true, where the address to dial
// is only read once the PUT has finished, so StartVM waits for the whole LRO.
import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import { createVM, newSandboxId, podAnnotations, startVM, stopVM } from "../../src/cli/sandbox.ts";
import { startArmEmulator, type ArmEmulator } from "../azure-emulator/index.ts";
import { azureProviderEnv } from "../azure-emulator/env.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  waitFor,
} from "../helpers/daemon.ts";
import { bootFakeVm, stopFakeVm } from "../helpers/fake-pod-vm.ts";

export interface EarlyDialRun {
  /** StartVM wall, ms. */
  startMs: number;
  /** From StartVM's call to ARM reporting the VM Succeeded, ms. */
  lroDoneMs: number;
}

export interface EarlyDialBench {
  lroMs: number;
  forwarderAtMs: number;
  earlyDial: EarlyDialRun;
  /** USE_PUBLIC_IP=true: the address is read after the PUT finished. */
  publicIp: EarlyDialRun;
}

async function oneStart(
  emu: ArmEmulator,
  lroMs: number,
  forwarderAtMs: number,
  usePublicIp: boolean,
): Promise<EarlyDialRun> {
  const dir = await makeDaemonDir();
  const keyFile = join(dir, "id_rsa.pub");
  await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
  const port = await freePort();
  const env = daemonEnv(dir, {
    CLOUD_PROVIDER: "azure",
    LOG_LEVEL: "warn",
    ...azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile, USE_PUBLIC_IP: String(usePublicIp) }),
    FORWARDER_HOST: "127.0.0.1",
    FORWARDER_PORT: String(port),
  });
  const daemon = await startDaemon(dir, env, 60_000);
  let vm: ChildProcess[] = [];
  let booting: NodeJS.Timeout | undefined;
  try {
    emu.state.options.lroDelayMs = lroMs;
    const o = { socket: daemon.socket };
    const id = newSandboxId();
    await createVM(o, id, podAnnotations("early-dial-bench", "default"), "");
    const t0 = performance.now();
    let lroDoneMs = 0;
    const started = startVM(o, id).then(() => performance.now() - t0);
    const entry = await waitFor("the VM PUT", async () => [...emu.state.vms.values()][0]);
    const userData = Buffer.from(entry.userData ?? "", "base64").toString("utf8");
    booting = setTimeout(() => {
      void bootFakeVm(dir, userData, port).then((procs) => (vm = procs));
    }, forwarderAtMs);
    const lroDone = waitFor(
      "the VM PUT's LRO",
      async () => (entry.resource.properties.provisioningState === "Succeeded" ? true : undefined),
      lroMs + 60_000,
    ).then(() => (lroDoneMs = performance.now() - t0));
    const startMs = await started;
    await lroDone;
    emu.state.options.lroDelayMs = 50;
    await stopVM(o, id);
    return { startMs, lroDoneMs };
  } finally {
    clearTimeout(booting);
    await stopFakeVm(vm);
    await daemon.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: "" });
  }
}

export async function benchAzureEarlyDial(lroMs = 60_000, forwarderAtMs = 20_000): Promise<EarlyDialBench> {
  const emu = await startArmEmulator({ lroDelayMs: lroMs });
  try {
    const earlyDial = await oneStart(emu, lroMs, forwarderAtMs, false);
    const publicIp = await oneStart(emu, lroMs, forwarderAtMs, true);
    return { lroMs, forwarderAtMs, earlyDial, publicIp };
  } finally {
    await emu.stop();
  }
}
