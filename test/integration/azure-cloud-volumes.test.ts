// Cloud volumes on Azure against the ARM emulator, with the real @azure/arm-compute SDK on both
// sides: the user's managed disk is made as `az disk create` would, the pod VM's one PUT carries it
// in storageProfile.dataDisks (createOption Attach, the annotation's LUN, deleteOption Detach), and
// deleting the VM — by a provider that never created it, as after a daemon restart, or after a
// failed create — detaches the disk and never deletes it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ComputeManagementClient } from "@azure/arm-compute";
import { ClientSecretCredential } from "@azure/identity";
import azure from "../../providers/azure/index.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import { InvalidConfigError } from "../../providers/errors.ts";
import type { CloudVolumeAttachment, CreateRequest, Provider } from "../../providers/types.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import {
  azureProviderEnv,
  startArmEmulator,
  trustCaInProcess,
  type ArmEmulator,
} from "../azure-emulator/index.ts";
import type { VmPutBody } from "../azure-emulator/arm-types.ts";

function request(sandboxId: string, volumes: CloudVolumeAttachment[]): CreateRequest {
  const podName = `db-${sandboxId.slice(0, 4)}`;
  return {
    name: `podvm-${podName}-${sandboxId.slice(0, 8)}`,
    userData: "#cloud-config\n",
    spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "", volumes },
    owner: { cluster: "c1", node: "worker-1", podNamespace: "default", sandboxId, podName },
  };
}

describe("Azure cloud volumes against the ARM emulator", () => {
  let emu: ArmEmulator;
  let dir: string;
  let keyFile: string;
  let compute: ComputeManagementClient;
  const log = captureLogger();
  const open: Provider[] = [];

  async function provider(): Promise<Provider> {
    const env = azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile });
    const p = await azure.create(env, { logger: log.logger, stateDir: dir });
    open.push(p);
    await p.start({ verify: false });
    return p;
  }

  /** The user's disk, made with the SDK as `az disk create --size-gb 8` makes it. */
  async function userDisk(name: string): Promise<string> {
    const disk = await compute.disks.beginCreateOrUpdateAndWait(emu.resourceGroup, name, {
      location: emu.location,
      sku: { name: "Premium_LRS" },
      creationData: { createOption: "Empty" },
      diskSizeGB: 8,
    });
    return disk.id ?? "";
  }

  const since = () => emu.requests.length;
  const ops = (from: number) => emu.requests.filter((r) => r.seq > from);

  before(async () => {
    emu = await startArmEmulator({ lroDelayMs: 20 });
    trustCaInProcess(emu.caPem);
    dir = await mkdtemp(join(tmpdir(), "azure-volumes-"));
    keyFile = join(dir, "id_rsa.pub");
    await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
    const credential = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
      authorityHost: emu.url,
      disableInstanceDiscovery: true,
    });
    compute = new ComputeManagementClient(credential, emu.subscriptionId, {
      endpoint: emu.url,
      credentials: { scopes: [`${emu.url}/.default`] },
    });
  });

  after(async () => {
    for (const p of open) await p.close();
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("the disk goes into the VM PUT as a data disk and survives the VM's delete, detached", async () => {
    const diskId = await userDisk("pvc-data-1");
    const p = await provider();
    const from = since();
    const inst = await p.create(request("a1b2c3d4e5f60718", [{ name: "data", diskId, lun: 3 }]));

    const put = ops(from).find((r) => r.op === "vm.put")?.body as VmPutBody;
    assert.deepEqual(put.properties?.storageProfile?.dataDisks, [
      { lun: 3, createOption: "Attach", deleteOption: "Detach", managedDisk: { id: diskId } },
    ]);
    const attached = await compute.disks.get(emu.resourceGroup, "pvc-data-1");
    assert.equal(attached.managedBy, inst.id);
    assert.equal(attached.diskState, "Attached");
    const vm = await compute.virtualMachines.get(emu.resourceGroup, inst.name);
    assert.deepEqual(
      vm.storageProfile?.dataDisks?.map((d) => [d.lun, d.managedDisk?.id, d.deleteOption]),
      [[3, diskId, "Detach"]],
    );
    assert.equal(log.find(`attaching cloud volume data (${diskId}) as data disk LUN 3`).length, 1);

    // A second provider object stands for a restarted daemon: it knows only the instance id.
    const restarted = await provider();
    const delFrom = since();
    await restarted.delete(inst.id);
    assert.equal(emu.snapshot().vms.includes(inst.name), false, "the VM is gone");
    const kept = await compute.disks.get(emu.resourceGroup, "pvc-data-1");
    assert.equal(kept.diskState, "Unattached");
    assert.equal(kept.managedBy, undefined);
    assert.ok(emu.snapshot().disks.includes("pvc-data-1"), "the user's disk still exists");
    assert.equal(emu.snapshot().disks.includes(`${inst.name}-disk`), false, "the OS disk went with the VM");
    const diskDeletes = ops(delFrom)
      .filter((r) => r.op === "disk.delete")
      .map((r) => r.path);
    assert.equal(diskDeletes.filter((path) => path.includes("pvc-data-1")).length, 0);

    // Detached means free: the next pod can take it.
    const again = await p.create(request("a1b2c3d4e5f60719", [{ name: "data", diskId, lun: 0 }]));
    assert.equal((await compute.disks.get(emu.resourceGroup, "pvc-data-1")).managedBy, again.id);
    await p.delete(again.id);
  });

  test("a create that fails after the PUT removes the VM and leaves the user's disk, detached", async () => {
    const diskId = await userDisk("pvc-data-2");
    const p = await provider();
    emu.setFaults({ lroFailure: {} });
    await assert.rejects(p.create(request("b1b2c3d4e5f60718", [{ name: "data", diskId, lun: 0 }])));
    assert.equal(emu.faultsFired.lroFailure, 1);
    const kept = await compute.disks.get(emu.resourceGroup, "pvc-data-2");
    assert.equal(kept.diskState, "Unattached");
    assert.equal(kept.managedBy, undefined);
    assert.equal(emu.snapshot().vms.includes("podvm-db-b1b2-b1b2c3d4"), false);
  });

  test("a disk that is missing, in use, malformed or one too many fails the create before the PUT, naming the volume", async () => {
    const p = await provider();
    const busyId = await userDisk("pvc-busy");
    const holder = await p.create(request("c1b2c3d4e5f60718", [{ name: "data", diskId: busyId, lun: 0 }]));
    const from = since();
    const missing = busyId.replace("pvc-busy", "pvc-gone");
    const cases: Array<[CloudVolumeAttachment[], RegExp, string]> = [
      [
        [{ name: "gone", diskId: missing, lun: 0 }],
        /^cloud volume "gone": disk pvc-gone not found in resource group peerpods-rg$/,
        "DiskNotFound",
      ],
      [
        [{ name: "busy", diskId: busyId, lun: 0 }],
        new RegExp(`^cloud volume "busy": disk pvc-busy is attached to ${holder.id}, not free to attach$`),
        "DiskInUse",
      ],
      [
        [{ name: "bad", diskId: "vol-0123456789abcdef0", lun: 0 }],
        /^cloud volume "bad": disk_id vol-0123456789abcdef0 is not a managed-disk ARM id/,
        "InvalidDiskId",
      ],
      [
        [0, 1, 2, 3, 4].map((lun) => ({ name: `d${lun}`, diskId: `${busyId}${lun}`, lun })),
        /^cloud volumes: 5 data disks requested but VM size Standard_DC2as_v5 takes at most 4$/,
        "TooManyDataDisks",
      ],
    ];
    for (const [volumes, message, code] of cases) {
      await assert.rejects(p.create(request("d1b2c3d4e5f60718", volumes)), (err: Error) => {
        assert.ok(err instanceof InvalidConfigError, String(err));
        assert.match(err.message, message);
        assert.equal(err.code, code);
        return true;
      });
    }
    assert.equal(ops(from).filter((r) => r.op === "vm.put").length, 0, "no VM PUT");
    await p.delete(holder.id);
  });

  test("the emulator itself refuses a data disk that does not exist or is in use, making nothing", async () => {
    const busyId = await userDisk("pvc-raw");
    const p = await provider();
    const holder = await p.create(request("e1b2c3d4e5f60718", [{ name: "data", diskId: busyId, lun: 0 }]));
    const body = (diskId: string) => ({
      location: emu.location,
      hardwareProfile: { vmSize: "Standard_DC2as_v5" },
      storageProfile: {
        imageReference: { id: emu.imageId },
        osDisk: { name: "raw-vm-disk", createOption: "FromImage" },
        dataDisks: [{ lun: 0, createOption: "Attach", managedDisk: { id: diskId } }],
      },
      osProfile: { adminUsername: "peerpod", computerName: "raw-vm", adminPassword: "x" },
      networkProfile: { networkInterfaces: [] },
    });
    await assert.rejects(
      compute.virtualMachines.beginCreateOrUpdateAndWait(emu.resourceGroup, "raw-vm", body(busyId + "x")),
      (err: Error & { statusCode?: number; code?: string }) =>
        err.statusCode === 404 && err.code === "ResourceNotFound",
    );
    await assert.rejects(
      compute.virtualMachines.beginCreateOrUpdateAndWait(emu.resourceGroup, "raw-vm", body(busyId)),
      (err: Error & { statusCode?: number; code?: string }) =>
        err.statusCode === 409 && /currently being used by VM/.test(err.message),
    );
    assert.equal(emu.snapshot().vms.includes("raw-vm"), false);
    await p.delete(holder.id);
  });
});
