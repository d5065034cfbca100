// Cloud volumes through the whole daemon (`caa serve`, CLOUD_PROVIDER=aws against moto): the pod's
// cloud_volumes annotation is read from the pod through the (fake) API server — the shim sends no
// such annotation — the EBS volume is attached to the pod VM at StartVM, and after a kill -9 and a
// restart the new daemon's StopVM still detaches it (the instance id comes from the durable record,
// the attachments are read back from EC2; nothing is kept in memory) and leaves it for the user.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  CreateVolumeCommand,
  DescribeInstanceAttributeCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";
import { awsEnv, instancesOfSandbox, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";
import { bootFakeVm, stopFakeVm } from "../helpers/fake-pod-vm.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  waitFor,
} from "../helpers/daemon.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";

const NODE = "worker-cv";
const POD = { "io.kubernetes.cri.sandbox-name": "db", "io.kubernetes.cri.sandbox-namespace": "default" };

describe(
  "caa serve: a pod's EBS volume across a daemon restart",
  { skip: needsMoto(), timeout: 240_000 },
  () => {
    let moto: Moto;
    let ec2: EC2Client;
    let api: FakeKubeApi;
    let dir: string;
    let vm: ChildProcess[] = [];

    before(async () => {
      moto = await startMoto();
      ec2 = motoClient(moto.url);
      api = new FakeKubeApi();
      await api.start();
      api.addNode(NODE);
      dir = await makeDaemonDir();
    });
    after(async () => {
      await stopFakeVm(vm);
      await moto?.stop();
      await api?.close();
      await cleanupDaemon({ dir, bridge: "" });
    });

    test("attached at StartVM from the pod's annotation; a restarted daemon's StopVM detaches it and keeps it", async () => {
      const world = await seedWorld(ec2);
      const volId =
        (
          await ec2.send(
            new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 8, VolumeType: "gp3" }),
          )
        ).VolumeId ?? "";
      const pod = api.addPod("default", "db", { nodeName: NODE, runtimeClassName: "kata-remote" });
      pod.metadata.annotations = {
        "io.confidentialcontainers.org.cloud_volumes": JSON.stringify({
          data: { mount_point: "/data", fs_type: "ext4", lun: "0", disk_id: volId },
        }),
      };
      const port = await freePort();
      const env = daemonEnv(dir, {
        CLOUD_PROVIDER: "aws",
        ...awsEnv(moto.url, world, { PODVM_INSTANCE_TYPE: "m6a.large" }),
        FORWARDER_HOST: "127.0.0.1",
        FORWARDER_PORT: String(port),
        NODE_NAME: NODE,
        KUBECONFIG: await api.writeKubeconfig(dir),
      });
      const volume = async () =>
        (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volId] }))).Volumes?.[0];

      let daemon = await startDaemon(dir, env, 60_000);
      const id = randomBytes(32).toString("hex");
      try {
        const [create] = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
        assert.equal(create.code, 0, create.message);
        const start = goShimLifecycle(daemon.socket, { id, steps: ["start"] });
        const [instance] = await waitFor("the instance", async () => {
          const found = await instancesOfSandbox(ec2, id);
          return found.length > 0 ? found : undefined;
        });
        const attr = await ec2.send(
          new DescribeInstanceAttributeCommand({ InstanceId: instance.InstanceId, Attribute: "userData" }),
        );
        vm = await bootFakeVm(dir, Buffer.from(attr.UserData?.Value ?? "", "base64").toString("utf8"), port);
        const [started] = await start;
        assert.equal(started.code, 0, started.message);
        const attached = await volume();
        assert.deepEqual(
          attached?.Attachments?.map((a) => [a.InstanceId, a.Device, a.State]),
          [[instance.InstanceId, "/dev/xvdb", "attached"]],
        );
      } finally {
        await daemon.kill("SIGKILL");
      }

      daemon = await startDaemon(dir, env, 60_000);
      try {
        const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
        assert.equal(stop.code, 0, stop.message);
        assert.deepEqual(await instancesOfSandbox(ec2, id, ["pending", "running"]), [], "terminated");
        const kept = await volume();
        assert.ok(kept, "the user's volume still exists");
        assert.equal(kept.State, "available");
        assert.deepEqual(kept.Attachments ?? [], []);
        assert.match(daemon.logs(), new RegExp(`detached cloud volume ${volId} \\(kept\\)`));
      } finally {
        await daemon.kill("SIGTERM");
      }
    });
  },
);
