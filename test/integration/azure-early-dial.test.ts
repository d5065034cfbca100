// Azure early dial: ARM keeps a VM PUT `Creating` for a long time while the VM already boots. The
// daemon dials the forwarder as soon as the VM's NIC has its address, so StartVM returns once the
// agent answers, while the emulator still reports the VM Creating; a create that then fails is
// cleaned up as always; one that fails before the agent answers fails StartVM at once, with
// Azure's error, instead of waiting out the agent-connect timeout.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ChildProcess } from "node:child_process";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import { startArmEmulator, type ArmEmulator } from "../azure-emulator/index.ts";
import { azureProviderEnv } from "../azure-emulator/env.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { bootFakeVm, stopFakeVm } from "../helpers/fake-pod-vm.ts";
import { goShimLifecycle } from "../helpers/go-peer.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "early", "io.kubernetes.cri.sandbox-namespace": "default" };
// Long enough that StartVM answering inside it can only be the early dial.
const LRO_MS = 15_000;

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("Azure: StartVM dials the VM while ARM still creates it", { timeout: 180_000 }, () => {
  let emu: ArmEmulator;
  let dir: string;
  let daemon: DaemonProcess;
  let vm: ChildProcess[] = [];
  let port = 0;

  before(async () => {
    emu = await startArmEmulator({ lroDelayMs: LRO_MS });
    dir = await makeDaemonDir();
    const keyFile = join(dir, "id_rsa.pub");
    await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
    port = await freePort();
    daemon = await startDaemon(
      dir,
      daemonEnv(dir, {
        CLOUD_PROVIDER: "azure",
        ...azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile }),
        FORWARDER_HOST: "127.0.0.1",
        FORWARDER_PORT: String(port),
      }),
      60_000,
    );
  });
  after(async () => {
    await stopFakeVm(vm);
    await daemon?.kill("SIGTERM");
    await emu?.stop();
    await cleanupDaemon({ dir, bridge: "" });
  });

  const vmEntry = () => [...emu.state.vms.values()][0];
  const stateOf = () => String(vmEntry()?.resource.properties.provisioningState);

  test("StartVM answers while the VM is still Creating; StopVM afterwards leaves nothing", async () => {
    const id = randomBytes(32).toString("hex");
    const [create] = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
    assert.equal(create.code, 0, create.message);
    const start = goShimLifecycle(daemon.socket, { id, steps: ["start"] });
    const entry = await waitFor("the VM PUT", vmEntry);
    const userData = Buffer.from(entry.userData ?? "", "base64").toString("utf8");
    vm = await bootFakeVm(dir, userData, port);
    const [started] = await start;
    assert.equal(started.code, 0, started.message);
    assert.equal(stateOf(), "Creating", "StartVM returned before ARM finished the VM");
    assert.equal(await agentHealth(create.agentSocketPath!), "SERVING");
    assert.match(daemon.logs(), /Azure VM has its address while ARM still creates it; dialling it now/);

    await waitFor("the LRO to finish", () => (stateOf() === "Succeeded" ? true : undefined), LRO_MS + 10_000);
    // The late end of the create changed nothing: still served, and no second VM.
    assert.equal(await agentHealth(create.agentSocketPath!), "SERVING");
    assert.equal(emu.state.vms.size, 1);
    emu.state.options.lroDelayMs = 50;
    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0, stop.message);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    await stopFakeVm(vm);
    vm = [];
  });

  test("a create that fails before the agent answers fails StartVM with Azure's error and leaves nothing", async () => {
    emu.state.options.lroDelayMs = 2_000;
    emu.setFaults({
      lroFailure: { code: "InternalExecutionError", message: "An internal execution error occurred." },
    });
    const id = randomBytes(32).toString("hex");
    const [create] = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
    assert.equal(create.code, 0, create.message);
    // No forwarder answers: without the create's failure StartVM would wait for PROXY_TIMEOUT (5m).
    const [started] = await goShimLifecycle(daemon.socket, { id, steps: ["start"] });
    assert.notEqual(started.code, 0);
    assert.match(started.message ?? "", /^provisioning: .*InternalExecutionError/);
    assert.equal(emu.faultsFired.lroFailure, 1);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0, stop.message);
  });
});
