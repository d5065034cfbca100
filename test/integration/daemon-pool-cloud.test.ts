// The warm pool on AWS (moto, behind the fault proxy that counts EC2 actions) and Azure (the ARM
// emulator, which records every request): pooled VMs are created with generic user-data and the
// pool tags; a claim issues no create call; the pool refills after it; the leak collector leaves
// the pool's VMs alone and deletes a pool-tagged VM nobody records. The cloud's VMs run nothing,
// so the test plays each pooled VM on 127.0.0.1 with the user-data it reads back (FORWARDER_HOST).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadProvider } from "../../providers/registry.ts";
import type { Instance, Provider } from "../../providers/types.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { azureProviderEnv, startArmEmulator, trustCaInProcess } from "../azure-emulator/index.ts";
import { cleanupDaemon, daemonEnv, freePort, makeDaemonDir, startDaemon } from "../helpers/daemon.ts";
import { bootFakeVm, stopFakeVm } from "../helpers/fake-pod-vm.ts";
import { startFaultProxy } from "../helpers/fault-proxy.ts";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import { needsMoto, startMoto } from "../helpers/moto.ts";
import { awsEnv, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";
import { poolVms, until, type PoolVm } from "../helpers/pool.ts";

const CLUSTER = "pool-ci";
const POD = { "io.kubernetes.cri.sandbox-name": "warm", "io.kubernetes.cri.sandbox-namespace": "default" };

/** One cloud under test: the daemon's env for it, the same cloud in this process, its create count. */
interface Cloud {
  env: Record<string, string>;
  /** The same provider, in this process: reads what the cloud holds and plants an orphan. */
  provider: Provider;
  /** Create calls the cloud has received (RunInstances / VM PUTs). */
  creates(): number;
  stop(): Promise<void>;
}

async function awsCloud(dir: string): Promise<Cloud> {
  const moto = await startMoto();
  const ec2 = motoClient(moto.url);
  const world = await seedWorld(ec2);
  const proxy = await startFaultProxy(moto.url);
  const types = { PODVM_INSTANCE_TYPE: "m6a.large", PODVM_INSTANCE_TYPES: "m6a.large" };
  const provider = await loadProvider("aws", awsEnv(moto.url, world, types), {
    logger: silentLogger(),
    stateDir: join(dir, "test-provider"),
  });
  await provider.start({ verify: false });
  return {
    env: { CLOUD_PROVIDER: "aws", ...awsEnv(proxy.url, world, types) },
    provider,
    creates: () => proxy.counts().RunInstances ?? 0,
    async stop() {
      ec2.destroy();
      await proxy.stop();
      await moto.stop();
    },
  };
}

async function azureCloud(dir: string): Promise<Cloud> {
  const emu = await startArmEmulator({ lroDelayMs: 20 });
  trustCaInProcess(emu.caPem);
  const keyFile = join(dir, "id_rsa.pub");
  await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
  const env = azureProviderEnv(emu, { AZURE_SSH_KEY_PATH: keyFile });
  const provider = await loadProvider("azure", env, {
    logger: silentLogger(),
    stateDir: join(dir, "test-provider"),
  });
  await provider.start({ verify: false });
  return {
    env: { CLOUD_PROVIDER: "azure", ...env },
    provider,
    creates: () => emu.count("vm.put"),
    stop: () => emu.stop(),
  };
}

/** The pool's VMs in the cloud with their user-data, through the provider's list by owner tags. */
async function cloudVms(cloud: Cloud): Promise<(Instance & { userData: string })[]> {
  const found = await cloud.provider.list({ cluster: CLUSTER });
  return Promise.all(found.map(async (i) => ({ ...i, userData: await cloud.provider.readUserData!(i.id) })));
}

const poolVmWithInstance = (ops: string, not?: string) =>
  until("a pooled VM in the cloud", async () =>
    (await poolVms(ops)).find((v) => v.instanceId !== undefined && v.instanceId !== not),
  );

const readyPoolVm = (ops: string, slot: string) =>
  until(`pooled VM ${slot} ready`, async () =>
    (await poolVms(ops)).find((v) => v.slot === slot && v.state === "ready"),
  );

/** A pooled VM's cloud side: generic user-data (nothing of any pod) and the owner tags plus the pool role. */
async function checkPooledInCloud(cloud: Cloud, vm: PoolVm): Promise<string> {
  const inCloud = (await cloudVms(cloud)).find((i) => i.id === vm.instanceId);
  assert.ok(inCloud, `${vm.instanceId} is in the cloud`);
  assert.equal(inCloud.tags["peerpod-role"], "pool");
  assert.equal(inCloud.tags["peerpod-cluster"], CLUSTER);
  assert.equal(inCloud.tags["peerpod-sandbox-id"], vm.slot);
  assert.match(inCloud.userData, /^#cloud-config\n/);
  assert.match(inCloud.userData, /path: \/run\/peerpod\/pool-bootstrap\.json/);
  assert.doesNotMatch(inCloud.userData, /apf\.json|auth\.json|initdata|pod-name|pod-network/);
  return inCloud.userData;
}

async function poolScenario(cloud: Cloud, dir: string): Promise<void> {
  const port = await freePort();
  const opsPort = await freePort();
  const ops = `http://127.0.0.1:${opsPort}`;
  const env = daemonEnv(dir, {
    ...cloud.env,
    CLUSTER_NAME: CLUSTER,
    FORWARDER_HOST: "127.0.0.1",
    FORWARDER_PORT: String(port),
    PROBE_PORT: String(opsPort),
    POOL_SIZE: "1",
    LEAK_INTERVAL: "1s",
    // Not 0: the collector must not delete the orphan planted below while the test's own create
    // of it is still reading its addresses (on Azure that create then fails on the NIC's 404).
    LEAK_GRACE_PERIOD: "10s",
  });
  const daemon = await startDaemon(dir, env, 60_000);
  let fakeVm: ChildProcess[] = [];
  try {
    // The pool creates its VM; the test plays it with the user-data the cloud holds.
    const first = await poolVmWithInstance(ops);
    fakeVm = await bootFakeVm(dir, await checkPooledInCloud(cloud, first), port, "first");
    await readyPoolVm(ops, first.slot);

    // A hit: the sandbox takes the pooled VM; the only create while it starts is the refill's.
    const createsBefore = cloud.creates();
    const id = randomBytes(32).toString("hex");
    const [create, start] = await goShimLifecycle(daemon.socket, {
      id,
      annotations: POD,
      steps: ["create", "start"],
    });
    assert.equal(create.code, 0, create.message);
    assert.equal(start.code, 0, start.message);
    const view = (await (await fetch(`${ops}/v1/sandboxes/${id}`)).json()) as {
      pooled?: boolean;
      instanceId?: string;
    };
    assert.equal(view.pooled, true);
    assert.equal(view.instanceId, first.instanceId);
    assert.equal(await agentHealth(create.agentSocketPath!), "SERVING");
    const second = await poolVmWithInstance(ops, first.instanceId);
    assert.equal(cloud.creates() - createsBefore, 1, "one create: the refill's, none for the sandbox");
    const secondUserData = await checkPooledInCloud(cloud, second);
    assert.ok(
      (await cloudVms(cloud)).every((i) => i.tags["peerpod-sandbox-id"] !== id),
      "no VM was created for the sandbox",
    );

    // StopVM deletes the claimed VM; the refill's VM comes up and is ready for the next pod.
    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0, stop.message);
    await stopFakeVm(fakeVm);
    fakeVm = await bootFakeVm(dir, secondUserData, port, "second");
    await readyPoolVm(ops, second.slot);
    await until("the claimed VM is deleted", async () =>
      (await cloudVms(cloud)).some((i) => i.id === first.instanceId) ? undefined : true,
    );

    // A pool-tagged VM nobody records (a record lost): the collector deletes it, not the pool's.
    const orphanSlot = `pool-${randomBytes(6).toString("hex")}`;
    const type = cloud.provider.defaultInstanceType();
    const sizes = cloud.provider.instanceTypes().find((t) => t.name === type)!;
    const orphan = await cloud.provider.create({
      name: `podvm-${orphanSlot}`,
      userData: "#cloud-config\n",
      spec: { instanceType: sizes.name, image: "", vcpus: sizes.vcpus, memoryMiB: sizes.memoryMiB, gpus: 0 },
      owner: {
        cluster: CLUSTER,
        node: "",
        sandboxId: orphanSlot,
        podName: "",
        podNamespace: "",
        role: "pool",
      },
    });
    // The collector logs once the cloud's delete is done (list stops showing a VM being deleted earlier).
    await until(
      "the collector deletes the unrecorded pool VM",
      async () => (daemon.logs().includes(`deleted leaked instance ${orphan.id}`) ? true : undefined),
      60_000,
    );
    assert.deepEqual(
      (await cloudVms(cloud)).map((i) => i.id),
      [second.instanceId],
      "the pool's VM is left alone",
    );
    assert.equal((await poolVms(ops)).find((v) => v.slot === second.slot)?.state, "ready");

    // Uninstall: the pool's VMs go.
    const drained = (await (await fetch(`${ops}/v1/pool`, { method: "DELETE" })).json()) as {
      deleted: number;
    };
    assert.equal(drained.deleted, 1);
    assert.deepEqual(await cloudVms(cloud), []);
  } finally {
    await stopFakeVm(fakeVm);
    await daemon.kill("SIGTERM");
  }
}

describe("the warm pool against the cloud emulators", () => {
  test(
    "AWS (moto): generic user-data and pool tags, a claim without a create, refill, leaks",
    { skip: needsMoto() },
    async () => {
      const dir = await makeDaemonDir();
      const cloud = await awsCloud(dir);
      try {
        await poolScenario(cloud, dir);
      } finally {
        await cloud.stop();
        await cleanupDaemon({ dir, bridge: "" });
      }
    },
  );

  test("Azure (ARM emulator): generic user-data and pool tags, a claim without a create, refill, leaks", async () => {
    const dir = await makeDaemonDir();
    const cloud = await azureCloud(dir);
    try {
      await poolScenario(cloud, dir);
    } finally {
      await cloud.stop();
      await cleanupDaemon({ dir, bridge: "" });
    }
  });
});
