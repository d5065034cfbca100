// The Azure provider against the ARM emulator, with the real SDK clients and a real
// ClientSecretCredential that gets its token from the emulator's login endpoint. The SDK runs in
// this process, so the emulator's CA is trusted with trustCaInProcess (NODE_EXTRA_CA_CERTS is
// only read at process start).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import azure from "../../providers/azure/index.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import { InvalidConfigError, NotFoundError } from "../../providers/errors.ts";
import type { CreateRequest, Provider } from "../../providers/types.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import {
  azureProviderEnv,
  startArmEmulator,
  trustCaInProcess,
  type ArmEmulator,
} from "../azure-emulator/index.ts";
import type { VmPutBody } from "../azure-emulator/arm-types.ts";

const OWNER = { cluster: "c1", node: "worker-1", podNamespace: "default" };
const USER_DATA = "#cloud-config\nwrite_files:\n- path: /run/peerpod/apf.json\n  content: '{}'\n";

function request(sandboxId: string, extra: Partial<CreateRequest["spec"]> = {}): CreateRequest {
  const podName = `nginx-${sandboxId.slice(0, 4)}`;
  return {
    name: `podvm-${podName}-${sandboxId.slice(0, 8)}`,
    userData: USER_DATA,
    spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "", ...extra },
    owner: { ...OWNER, sandboxId, podName },
  };
}

function vmPuts(emu: ArmEmulator, since = 0): VmPutBody[] {
  return emu.requests.filter((r) => r.seq > since && r.op === "vm.put").map((r) => r.body as VmPutBody);
}

describe("Azure provider against the ARM emulator", () => {
  let emu: ArmEmulator;
  let dir: string;
  let keyFile: string;
  let key: string;
  const log = captureLogger();
  const calls: string[] = [];

  async function provider(extra: Record<string, string> = {}): Promise<Provider> {
    const env = azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile, ...extra });
    const onCloudCall = (provider: string, op: string, outcome: string) =>
      calls.push(`${provider} ${op} ${outcome}`);
    return azure.create(env, { logger: log.logger, stateDir: dir, onCloudCall });
  }

  before(async () => {
    emu = await startArmEmulator({ lroDelayMs: 20 });
    trustCaInProcess(emu.caPem);
    dir = await mkdtemp(join(tmpdir(), "azure-provider-"));
    key = await generatedPublicKey(2048);
    keyFile = join(dir, "id_rsa.pub");
    await writeFile(keyFile, key + "\n");
  });

  after(async () => {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("start-up reads the allow-list's cores and memory from the region's sizes and checks the configuration", async () => {
    const p = await provider({ AZURE_INSTANCE_SIZES: "Standard_DC4as_v5,Standard_DC2as_v5" });
    const since = emu.requests.length;
    await p.start({ verify: true });
    assert.deepEqual(p.instanceTypes(), [
      { name: "Standard_DC2as_v5", vcpus: 2, memoryMiB: 8192, gpus: 0 },
      { name: "Standard_DC4as_v5", vcpus: 4, memoryMiB: 16384, gpus: 0 },
    ]);
    assert.equal(p.defaultInstanceType(), "Standard_DC2as_v5");
    assert.deepEqual(p.allowList?.(), ["Standard_DC4as_v5", "Standard_DC2as_v5"]);
    const ops = emu.requests.filter((r) => r.seq > since).map((r) => r.op);
    for (const op of ["login.token", "vmSizes.list", "vm.list", "image.get", "subnet.get", "nsg.get"]) {
      assert.ok(ops.includes(op), `${op} in ${ops.join(",")}`);
    }
    await p.close();
  });

  test("create makes one VM with our user-data, confidential security profile, owner tags and delete options; delete leaves nothing", async () => {
    const p = await provider({ TAGS: "team=peerpods,peerpod-sandbox-id=forged" });
    await p.start({ verify: false });
    const since = emu.requests.length;
    const callsBefore = calls.length;
    const req = request("a1b2c3d4e5f60718");
    const inst = await p.create(req);
    const made = calls.slice(callsBefore);
    assert.equal(made.filter((c) => c === "azure PUT virtualMachines ok").length, 1, made.join("\n"));
    assert.equal(made.length, emu.count(undefined, since), "every ARM request is reported once");

    const puts = vmPuts(emu, since);
    assert.equal(puts.length, 1, "exactly one VM PUT");
    const body = puts[0];
    const props = body.properties ?? {};
    assert.equal(Buffer.from(props.userData ?? "", "base64").toString("utf8"), USER_DATA);
    assert.deepEqual(props.securityProfile, {
      securityType: "ConfidentialVM",
      uefiSettings: { secureBootEnabled: false, vTpmEnabled: true },
    });
    assert.deepEqual(props.storageProfile?.imageReference, { id: emu.imageId });
    const osDisk = props.storageProfile?.osDisk;
    assert.equal(osDisk?.name, `${req.name}-disk`);
    assert.equal(osDisk?.deleteOption, "Delete");
    assert.equal(osDisk?.managedDisk?.securityProfile?.securityEncryptionType, "VMGuestStateOnly");
    const nicCfg = props.networkProfile?.networkInterfaceConfigurations?.[0];
    assert.equal(props.networkProfile?.networkApiVersion, "2020-11-01");
    assert.equal(nicCfg?.name, `${req.name}-net`);
    assert.equal(nicCfg?.properties?.deleteOption, "Delete");
    assert.equal(nicCfg?.properties?.networkSecurityGroup?.id, emu.nsgId);
    assert.equal(nicCfg?.properties?.ipConfigurations?.[0].properties?.subnet?.id, emu.subnetId);
    assert.equal(
      nicCfg?.properties?.ipConfigurations?.[0].properties?.publicIPAddressConfiguration,
      undefined,
    );
    assert.equal(props.diagnosticsProfile?.bootDiagnostics?.enabled, true);
    assert.equal(props.hardwareProfile?.vmSize, "Standard_DC2as_v5");
    assert.deepEqual(props.osProfile?.linuxConfiguration, {
      disablePasswordAuthentication: true,
      ssh: { publicKeys: [{ path: "/home/peerpod/.ssh/authorized_keys", keyData: key }] },
    });
    assert.deepEqual(body.tags, {
      team: "peerpods",
      "peerpod-cluster": "c1",
      "peerpod-node": "worker-1",
      "peerpod-sandbox-id": req.owner.sandboxId,
      "peerpod-pod-name": req.owner.podName,
      "peerpod-pod-namespace": "default",
    });

    assert.equal(
      inst.id,
      `/subscriptions/${emu.subscriptionId}/resourceGroups/${emu.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${req.name}`,
    );
    assert.equal(inst.name, req.name);
    assert.equal(inst.ips.length, 1);
    assert.match(inst.ips[0], /^10\.0\.\d+\.\d+$/);
    assert.equal(inst.tags["peerpod-sandbox-id"], req.owner.sandboxId);
    assert.ok(inst.createdAt instanceof Date);
    assert.deepEqual(emu.snapshot(), {
      vms: [req.name],
      nics: [`${req.name}-net`],
      publicIps: [],
      disks: [`${req.name}-disk`],
    });

    assert.deepEqual((await p.get(inst.id)).ips, inst.ips);
    assert.equal(await p.readUserData?.(inst.id), USER_DATA, "user-data reads back intact");
    const listed = await p.list({ cluster: "c1", node: "worker-1" });
    assert.deepEqual(
      listed.map((i) => [i.id, i.ips]),
      [[inst.id, inst.ips]],
    );
    assert.deepEqual(await p.list({ cluster: "c1", sandboxId: "someone-else" }), []);

    await p.delete(inst.id);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    await assert.rejects(p.get(inst.id), NotFoundError);
    const foreign = inst.id.replace(emu.subscriptionId, "11111111-2222-3333-4444-555555555555");
    await assert.rejects(p.delete(foreign), { code: "InvalidInstanceId" });
    await assert.rejects(p.get(foreign), NotFoundError);
    const deletes = emu.count("vm.delete");
    await p.delete(inst.id);
    assert.equal(emu.count("vm.delete"), deletes, "a VM that is gone (GET 404) is not deleted again");
    assert.equal(
      JSON.stringify(log.lines).includes(emu.clientSecret),
      false,
      "the client secret is never logged",
    );
    assert.equal(JSON.stringify(log.lines).includes("write_files"), false, "user-data is never logged");
    await p.close();
  });

  test("public IP first, DISABLECVM, secure boot, root volume size, community image and the image annotation", async () => {
    const community = "/CommunityGalleries/podvm-1234/Images/podvm/Versions/0.1.0";
    const annotated = `/subscriptions/${emu.subscriptionId}/resourceGroups/${emu.resourceGroup}/providers/Microsoft.Compute/images/other-image`;
    emu.state.options.images.push(community, annotated);
    const p = await provider({
      USE_PUBLIC_IP: "true",
      DISABLECVM: "1",
      ENABLE_SECURE_BOOT: "true",
      ROOT_VOLUME_SIZE: "50",
      AZURE_IMAGE_ID: community,
    });
    await p.start({ verify: true });
    const since = emu.requests.length;
    const req = request("b1b2c3d4e5f60718");
    const inst = await p.create(req);
    const props = vmPuts(emu, since)[0].properties ?? {};
    assert.deepEqual(props.storageProfile?.imageReference, { communityGalleryImageId: community });
    assert.equal(props.securityProfile, undefined);
    assert.equal(props.storageProfile?.osDisk?.managedDisk?.securityProfile, undefined);
    assert.equal(props.storageProfile?.osDisk?.diskSizeGB, 50);
    const ipc = props.networkProfile?.networkInterfaceConfigurations?.[0].properties?.ipConfigurations?.[0];
    assert.deepEqual(ipc?.properties?.publicIPAddressConfiguration, {
      name: `${req.name}-net`,
      properties: { deleteOption: "Delete" },
    });
    assert.equal(inst.ips.length, 2);
    assert.match(inst.ips[0], /^203\.0\.113\.\d+$/, "public address first");
    assert.match(inst.ips[1], /^10\.0\./);
    assert.deepEqual((await p.list({ sandboxId: req.owner.sandboxId }))[0].ips, inst.ips);

    const other = request("c1b2c3d4e5f60718", { image: annotated });
    const second = await p.create(other);
    assert.deepEqual(vmPuts(emu, since)[1].properties?.storageProfile?.imageReference, { id: annotated });

    await Promise.all([p.delete(inst.id), p.delete(second.id)]);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    await p.close();
  });

  test("a VM delete whose cascade left the NIC and disk behind still ends with nothing left", async () => {
    const p = await provider();
    await p.start({ verify: false });
    const inst = await p.create(request("d1b2c3d4e5f60718"));
    emu.setFaults({ deleteLeaves: { kinds: ["nic", "disk"] } });
    const since = emu.requests.length;
    await p.delete(inst.id);
    emu.setFaults({});
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    const deletes = emu.requests.filter((r) => r.seq > since && r.method === "DELETE").map((r) => r.op);
    assert.deepEqual(deletes.sort(), ["disk.delete", "nic.delete", "vm.delete"]);
    assert.equal(log.find("VM delete left these behind").length, 1);
    await p.close();
  });

  test("user-data over 64 KiB after base64 is refused before any cloud call", async () => {
    const p = await provider();
    await p.start({ verify: false });
    const since = emu.requests.length;
    const big = { ...request("e1b2c3d4e5f60718"), userData: "x".repeat(49_153) };
    await assert.rejects(p.create(big), (err: unknown) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.equal(err.code, "UserDataTooLarge");
      assert.match(err.message, /base64 encoded userData is greater than 64KB/);
      return true;
    });
    assert.equal(emu.count(undefined, since), 0);
    await p.close();
  });

  test("start-up with CLOUD_CONFIG_VERIFY names every bad setting: image, size, subnet", async () => {
    const p = await provider({
      AZURE_IMAGE_ID: `/subscriptions/${emu.subscriptionId}/resourceGroups/${emu.resourceGroup}/providers/Microsoft.Compute/images/missing`,
      AZURE_INSTANCE_SIZES: "Standard_DC2as_v5,Standard_Nope_v9",
      AZURE_SUBNET_ID: emu.subnetId.replace(/default$/, "missing"),
    });
    await assert.rejects(p.start({ verify: true }), (err: unknown) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.match(err.message, /AZURE_IMAGE_ID.*ResourceNotFound/);
      assert.match(
        err.message,
        /Standard_Nope_v9 \(AZURE_INSTANCE_SIZE \/ AZURE_INSTANCE_SIZES\): not offered in region eastus/,
      );
      assert.match(err.message, /AZURE_SUBNET_ID.*ResourceNotFound/);
      return true;
    });
    const q = await provider({ AZURE_RESOURCE_GROUP: "no-such-group" });
    await assert.rejects(
      q.start({ verify: true }),
      /resource group no-such-group \(AZURE_RESOURCE_GROUP\): Azure ResourceGroupNotFound/,
    );
  });

  test("without AZURE_CLIENT_SECRET the provider signs in with workload identity (federated token file)", async () => {
    const tokenFile = join(dir, "azure-identity-token");
    await writeFile(tokenFile, "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl\n");
    const before = emu.state.grants.client_assertion ?? 0;
    const p = await provider({ AZURE_CLIENT_SECRET: "", AZURE_FEDERATED_TOKEN_FILE: tokenFile });
    await p.start({ verify: false });
    assert.equal(emu.state.grants.client_assertion, before + 1);
    assert.equal(p.instanceTypes()[0].name, "Standard_DC2as_v5");
    await p.close();
    assert.throws(
      () =>
        azure.create(
          { ...azureProviderEnv(emu), AZURE_CLIENT_SECRET: "" },
          { logger: log.logger, stateDir: dir },
        ),
      /AZURE_FEDERATED_TOKEN_FILE is not set/,
    );
  });

  test("a fresh process trusts the emulator through NODE_EXTRA_CA_CERTS alone", async () => {
    const script = new URL("../azure-emulator/run-provider.ts", import.meta.url).pathname;
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      ...azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile }),
    };
    const { stdout } = await promisify(execFile)(process.execPath, [script], {
      env,
      cwd: dir,
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as { id: string; ips: string[]; gotIps: string[] };
    assert.match(out.id, /virtualMachines\/podvm-child-c0ffee00$/);
    assert.deepEqual(out.gotIps, out.ips);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
  });

  test("bad credentials and missing settings give clear errors", async () => {
    const p = await provider({ AZURE_CLIENT_SECRET: "wrong" });
    await assert.rejects(p.start({ verify: true }), (err: unknown) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.equal(err.code, "AuthenticationFailed");
      assert.match(err.message, /AADSTS7000215/);
      assert.equal(err.message.includes("wrong"), false);
      return true;
    });
    assert.throws(
      () => azure.create({ AZURE_CLIENT_SECRET: "x" }, { logger: log.logger, stateDir: dir }),
      /AZURE_SUBSCRIPTION_ID \(-subscriptionid\), AZURE_REGION \(-region\), AZURE_RESOURCE_GROUP \(-resourcegroup\), AZURE_SUBNET_ID \(-subnetid\), AZURE_IMAGE_ID \(-imageid\) must be set/,
    );
  });
});
