// `caa serve` with CLOUD_PROVIDER=aws (moto) and azure (the ARM emulator), driven through the ttrpc
// socket by containerd's Go client. Cloud "VMs" don't run anything, so the test plays the pod VM:
// it reads the user-data back from the cloud API, boots our forwarder with it on 127.0.0.1
// (FORWARDER_HOST points the daemon there, never at the cloud's addresses) and lets StartVM finish.
// The lifecycles run from the sources and from the build output (the image's daemon bundle, whose
// cloud SDKs are chunks loaded on first use, and the pod-VM launcher).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DescribeInstanceAttributeCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import { startMoto, type Moto } from "../helpers/moto.ts";
import { awsEnv, instancesOfSandbox, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";
import { buildOutput, type BuildOutput } from "../helpers/build-output.ts";
import { bootFakeVm, stopFakeVm } from "../helpers/fake-pod-vm.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  waitFor,
} from "../helpers/daemon.ts";
import { startArmEmulator, type ArmEmulator } from "../azure-emulator/index.ts";
import { azureProviderEnv } from "../azure-emulator/env.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "cloudy", "io.kubernetes.cri.sandbox-namespace": "default" };

// The build output, made once for the tests that run it (the SDKs load from the bundle's chunks).
let built: Promise<BuildOutput> | undefined;
const build = (): Promise<BuildOutput> => (built ??= buildOutput());
after(async () => (await built)?.cleanup());

/** The fake VM's forwarder: the build's pod-VM launcher, or `caa forwarder` from the sources. */
const fakeVmForwarder = (b?: BuildOutput): string[] | undefined =>
  b ? [b.launcher, "forwarder"] : undefined;

describe("caa serve with CLOUD_PROVIDER=aws against moto", () => {
  let moto: Moto;
  let ec2: EC2Client;
  let dir: string;
  let vm: ChildProcess[] = [];

  before(async () => {
    moto = await startMoto();
    ec2 = motoClient(moto.url);
    dir = await makeDaemonDir();
  });
  after(async () => {
    for (const p of vm) p.kill("SIGTERM");
    await moto?.stop();
    await cleanupDaemon({ dir, bridge: "" });
  });

  const lifecycle = (build?: BuildOutput) => async () => {
    const world = await seedWorld(ec2);
    const port = await freePort();
    const env = daemonEnv(dir, {
      CLOUD_PROVIDER: "aws",
      ...awsEnv(moto.url, world, {
        PODVM_INSTANCE_TYPE: "m6a.large",
        PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge",
      }),
      CLOUD_CONFIG_VERIFY: "true",
      FORWARDER_HOST: "127.0.0.1",
      FORWARDER_PORT: String(port),
      CLUSTER_NAME: "ci",
    });
    const daemon = await startDaemon(dir, env, 60_000, { cli: build?.cli });
    try {
      const id = randomBytes(32).toString("hex");
      const [create] = await goShimLifecycle(daemon.socket, {
        id,
        annotations: {
          ...POD,
          "io.katacontainers.config.hypervisor.default_vcpus": "4",
          "io.katacontainers.config.hypervisor.default_memory": "16384",
        },
        steps: ["create"],
      });
      assert.equal(create.code, 0, create.message);
      const start = goShimLifecycle(daemon.socket, { id, steps: ["start"] });

      // The instance exists in moto while StartVM waits for the forwarder.
      const [instance] = await waitFor("the instance", async () => {
        const found = await instancesOfSandbox(ec2, id);
        return found.length > 0 ? found : undefined;
      });
      assert.equal(instance.InstanceType, "m6a.xlarge", "4 vCPUs / 16 GiB picks the next size");
      assert.equal(instance.MetadataOptions?.HttpTokens, "required");
      const tags = new Map((instance.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
      assert.equal(tags.get("Name"), `podvm-cloudy-${id.slice(0, 8)}`);
      assert.equal(tags.get("peerpod-cluster"), "ci");
      const attr = await ec2.send(
        new DescribeInstanceAttributeCommand({ InstanceId: instance.InstanceId, Attribute: "userData" }),
      );
      const userData = Buffer.from(attr.UserData?.Value ?? "", "base64").toString("utf8");
      assert.match(userData, /^#cloud-config\n\nwrite_files:\n {2}- path: \/run\/peerpod\/apf.json\n/);

      vm = await bootFakeVm(dir, userData, port, "vm", fakeVmForwarder(build));
      const [started] = await start;
      assert.equal(started.code, 0, started.message);
      assert.equal(await agentHealth(create.agentSocketPath!), "SERVING");

      const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
      assert.equal(stop.code, 0);
      assert.deepEqual(await instancesOfSandbox(ec2, id, ["pending", "running"]), [], "terminated");
    } finally {
      await daemon.kill("SIGTERM");
      await stopFakeVm(vm);
    }
  };

  test("CreateVM → StartVM → agent health → StopVM, with the user-data the VM reads", lifecycle());
  test("the same from the build output: the daemon bundle, and the pod-VM launcher as the VM's forwarder", async () =>
    lifecycle(await build())());

  test("a VM that never answers fails StartVM naming AWS_REQUIRE_IMDSV2, the setting older images need", async () => {
    const world = await seedWorld(ec2);
    const quiet = await makeDaemonDir();
    const env = daemonEnv(quiet, {
      CLOUD_PROVIDER: "aws",
      ...awsEnv(moto.url, world),
      FORWARDER_HOST: "127.0.0.1",
      FORWARDER_PORT: String(await freePort()),
      PROXY_TIMEOUT: "2s",
    });
    const daemon = await startDaemon(quiet, env, 60_000);
    try {
      assert.match(daemon.logs(), /IMDS mode: IMDSv2 only/);
      const id = randomBytes(32).toString("hex");
      const [, start, stop] = await goShimLifecycle(daemon.socket, { id, annotations: POD });
      assert.equal(start.code, 2);
      assert.match(start.message, /^agent-connect: no answer from 127\.0\.0\.1:\d+ after 2s/);
      assert.match(start.message, /image before upstream v0\.21 .* set AWS_REQUIRE_IMDSV2=false$/);
      assert.equal(stop.code, 0);
      assert.deepEqual(await instancesOfSandbox(ec2, id, ["pending", "running"]), [], "the VM was deleted");
    } finally {
      await daemon.kill("SIGTERM");
      await cleanupDaemon({ dir: quiet, bridge: "" });
    }
  });

  test("a bogus AMI fails start-up with a clear message before any pod arrives", async () => {
    const world = await seedWorld(ec2);
    const bad = await makeDaemonDir();
    const env = daemonEnv(bad, {
      CLOUD_PROVIDER: "aws",
      ...awsEnv(moto.url, { ...world, amiId: "ami-0123456789abcdef0" }),
      CLOUD_CONFIG_VERIFY: "true",
    });
    try {
      await assert.rejects(startDaemon(bad, env, 60_000), /ami-0123456789abcdef0.*InvalidAMIID/s);
    } finally {
      await cleanupDaemon({ dir: bad, bridge: "" });
    }
  });
});

describe("caa serve with CLOUD_PROVIDER=azure against the ARM emulator", () => {
  let emu: ArmEmulator;
  let dir: string;
  let vm: ChildProcess[] = [];

  before(async () => {
    emu = await startArmEmulator({ lroDelayMs: 20 });
    dir = await makeDaemonDir();
  });
  after(async () => {
    for (const p of vm) p.kill("SIGTERM");
    await emu?.stop();
    await cleanupDaemon({ dir, bridge: "" });
  });

  const lifecycle = (build?: BuildOutput) => async () => {
    const keyFile = join(dir, "id_rsa.pub");
    await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
    const port = await freePort();
    const env = daemonEnv(dir, {
      CLOUD_PROVIDER: "azure",
      ...azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile }),
      CLOUD_CONFIG_VERIFY: "true",
      FORWARDER_HOST: "127.0.0.1",
      FORWARDER_PORT: String(port),
    });
    const daemon = await startDaemon(dir, env, 60_000, { cli: build?.cli });
    try {
      const id = randomBytes(32).toString("hex");
      const [create] = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
      assert.equal(create.code, 0, create.message);
      const start = goShimLifecycle(daemon.socket, { id, steps: ["start"] });

      const entry = await waitFor("the VM", async () => [...emu.state.vms.values()][0]);
      const userData = Buffer.from(entry.userData ?? "", "base64").toString("utf8");
      assert.match(userData, /^#cloud-config\n\nwrite_files:\n {2}- path: \/run\/peerpod\/apf.json\n/);
      const tags = (entry.resource as { tags?: Record<string, string> }).tags ?? {};
      assert.equal(tags["peerpod-sandbox-id"], id);

      vm = await bootFakeVm(dir, userData, port, "vm", fakeVmForwarder(build));
      const [started] = await start;
      assert.equal(started.code, 0, started.message);
      assert.equal(await agentHealth(create.agentSocketPath!), "SERVING");

      const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
      assert.equal(stop.code, 0);
      assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    } finally {
      await daemon.kill("SIGTERM");
      await stopFakeVm(vm);
    }
  };

  test("CreateVM → StartVM → agent health → StopVM, leaving no VM, NIC, disk or IP", lifecycle());
  test("the same from the build output: the daemon bundle, and the pod-VM launcher as the VM's forwarder", async () =>
    lifecycle(await build())());
});
