// The Azure provider's early address (CreateRequest.onAddress) is reported only for a VM PUT that
// ARM accepted. A PUT ARM carried out but answered with a 5xx or a dropped connection is
// ambiguous, so the provider removes what it made; reporting the NIC's address meanwhile let the
// core dial the VM, StartVM answer OK, and the removal then take the running sandbox's VM (found
// by the chaos harness against the ARM emulator with 30 % faults: "StartVM succeeded, record now
// failed").
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import azure from "../../providers/azure/index.ts";
import type { Instance, Provider } from "../../providers/types.ts";
import { silentLogger } from "../../src/log/logger.ts";
import {
  azureProviderEnv,
  startArmEmulator,
  trustCaInProcess,
  type ArmEmulator,
} from "../azure-emulator/index.ts";

let emu: ArmEmulator;
let provider: Provider;
let dir: string;

before(async () => {
  // The VM delete of the cleanup takes this long: the window in which the NIC still answers.
  emu = await startArmEmulator({ lroDelayMs: 1500 });
  trustCaInProcess(emu.caPem);
  dir = await mkdtemp(join(tmpdir(), "azure-early-"));
  provider = await azure.create(azureProviderEnv(emu), { logger: silentLogger(), stateDir: dir });
  await provider.start({ verify: false });
});
after(async () => {
  await provider?.close();
  await emu?.stop();
  await rm(dir, { recursive: true, force: true });
});

function request(sandboxId: string, reported: Instance[]) {
  return {
    name: `podvm-early-${sandboxId.slice(0, 8)}`,
    userData: "#cloud-config\n",
    spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
    owner: { cluster: "c", node: "n", sandboxId, podName: "early", podNamespace: "default" },
    onAddress: (i: Instance) => reported.push(i),
  };
}

test("a VM PUT carried out but answered 503 reports no early address, and leaves nothing", async () => {
  emu.setFaults({ errorAfterAccept: { status: 503 } });
  const reported: Instance[] = [];
  await assert.rejects(provider.create(request("e0e0e0e0aaaa0001", reported)), /ServerTimeout/);
  assert.deepEqual(reported, [], "the core must not dial a VM whose create is being undone");
  assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
});

test("a VM PUT ARM accepted reports its address while the VM is still Creating", async () => {
  emu.setFaults({});
  const reported: Instance[] = [];
  const created = provider.create(request("e0e0e0e0aaaa0002", reported));
  const deadline = Date.now() + 1200;
  while (reported.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(reported.length, 1, "reported before the 1.5 s operation ended");
  const instance = await created;
  assert.deepEqual(reported[0].ips, instance.ips);
  await provider.delete(instance.id);
});
