// Cloud volumes on AWS against moto: the pod's EBS volume is attached after the instance runs,
// detached (never deleted) when the instance is deleted — also by a provider that never created it
// (a restarted daemon) — and a volume that is not available stops the create before RunInstances.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CreateVolumeCommand, DescribeVolumesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { createAwsProvider, type AwsProvider } from "../../providers/aws/index.ts";
import { InvalidConfigError } from "../../providers/errors.ts";
import { commandRecorder, createRequest, recordingLogger } from "../helpers/aws-requests.ts";
import {
  awsEnv,
  instancesOfSandbox,
  motoClient,
  seedWorld,
  type MotoWorld,
} from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";

const skip = needsMoto();

describe("AWS cloud volumes against moto", { skip, timeout: 240_000 }, () => {
  let moto: Moto;
  let ec2: EC2Client;
  let world: MotoWorld;
  const open: AwsProvider[] = [];

  const provider = async (logger = recordingLogger(), opts = {}) => {
    const p = await createAwsProvider(awsEnv(moto.url, world), { logger, stateDir: "/nonexistent" }, opts);
    open.push(p);
    await p.start({ verify: false });
    return p;
  };
  const volume = async () =>
    (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 8, VolumeType: "gp3" })))
      .VolumeId ?? "";
  const describe1 = async (id: string) =>
    (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes?.[0];

  before(async () => {
    moto = await startMoto();
    ec2 = motoClient(moto.url);
    world = await seedWorld(ec2);
  });
  after(async () => {
    for (const p of open) await p.close();
    ec2?.destroy();
    await moto?.stop();
  });

  test("CreateVolume → attach at create as /dev/xvdb → detach at delete; the volume survives", async () => {
    const volId = await volume();
    const logger = recordingLogger();
    const p = await provider(logger);
    const req = createRequest({ spec: { volumes: [{ name: "data", diskId: volId, lun: 0 }] } });
    const inst = await p.create(req);
    const attached = await describe1(volId);
    assert.equal(attached?.State, "in-use");
    assert.deepEqual(
      attached?.Attachments?.map((a) => [a.InstanceId, a.Device, a.State]),
      [[inst.id, "/dev/xvdb", "attached"]],
    );
    assert.match(logger.text(), new RegExp(`attached cloud volume data \\(${volId}\\) as /dev/xvdb`));

    // A second provider object stands for a restarted daemon: it only knows the instance id.
    const restarted = await provider(logger);
    await restarted.delete(inst.id);
    const kept = await describe1(volId);
    assert.ok(kept, "the user's volume still exists");
    assert.equal(kept.State, "available");
    assert.deepEqual(kept.Attachments ?? [], []);
    assert.match(logger.text(), new RegExp(`detached cloud volume ${volId} \\(kept\\)`));
  });

  test("a volume in use or unknown fails the create with its name, before RunInstances", async () => {
    const volId = await volume();
    const p = await provider();
    const first = await p.create(
      createRequest({ spec: { volumes: [{ name: "data", diskId: volId, lun: 0 }] } }),
    );
    const run = commandRecorder("RunInstancesCommand");
    const q = await provider(recordingLogger(), run);
    const second = createRequest({ spec: { volumes: [{ name: "data", diskId: volId, lun: 0 }] } });
    await assert.rejects(q.create(second), (err: Error) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.equal(err.message, `cloud volume "data": ${volId} is in-use, not available`);
      return true;
    });
    await assert.rejects(
      q.create(
        createRequest({ spec: { volumes: [{ name: "gone", diskId: "vol-0123456789abcdef0", lun: 0 }] } }),
      ),
      /cloud volumes: InvalidVolume\.NotFound/,
    );
    await assert.rejects(
      q.create(createRequest({ spec: { volumes: [{ name: "bad", diskId: "disk-1", lun: 0 }] } })),
      /cloud volume "bad": disk_id disk-1 is not an EBS volume id/,
    );
    assert.equal(run.inputs.length, 0, "no RunInstances");
    assert.equal((await instancesOfSandbox(ec2, second.owner.sandboxId)).length, 0);
    await p.delete(first.id);
  });
});
