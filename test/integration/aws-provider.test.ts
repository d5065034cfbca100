// The AWS provider against moto (docs/testing.md): start-up reads, the RunInstances request
// as moto stores it, get/list by owner tags, delete, and clear start-up errors.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import {
  CreateKeyPairCommand,
  DescribeInstanceAttributeCommand,
  DescribeNetworkInterfacesCommand,
  DescribeVolumesCommand,
  type EC2Client,
  type Instance as Ec2Instance,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import { createAwsProvider, type AwsProvider } from "../../providers/aws/index.ts";
import { InvalidConfigError, NotFoundError } from "../../providers/errors.ts";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
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

describe("AWS provider against moto", { skip, timeout: 240_000 }, () => {
  let moto: Moto;
  let ec2: EC2Client;
  let world: MotoWorld;
  const open: AwsProvider[] = [];

  const provider = async (extra: Record<string, string> = {}, logger = recordingLogger()) => {
    const p = await createAwsProvider(awsEnv(moto.url, world, extra), { logger, stateDir: "/nonexistent" });
    open.push(p);
    return p;
  };

  const only = async (sandbox: string): Promise<Ec2Instance> => {
    const found = await instancesOfSandbox(ec2, sandbox);
    assert.equal(found.length, 1, `exactly one instance for sandbox ${sandbox}`);
    return found[0];
  };

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

  test("start() reads the allowed types' sizes from DescribeInstanceTypes, sorted as upstream", async () => {
    const p = await provider({ PODVM_INSTANCE_TYPES: "m6a.xlarge,c6a.large,m6a.large" });
    await p.start({ verify: true });
    assert.deepEqual(p.instanceTypes(), [
      { name: "c6a.large", vcpus: 2, memoryMiB: 4096, gpus: 0 },
      { name: "m6a.large", vcpus: 2, memoryMiB: 8192, gpus: 0 },
      { name: "m6a.xlarge", vcpus: 4, memoryMiB: 16384, gpus: 0 },
    ]);
    assert.equal(p.defaultInstanceType(), "m6a.large");
    assert.deepEqual(p.allowList(), ["m6a.xlarge", "c6a.large", "m6a.large"]);
  });

  test("GPU counts come from GpuInfo", async () => {
    const p = await provider({ PODVM_INSTANCE_TYPES: "g5.12xlarge,g4dn.xlarge", DISABLECVM: "true" });
    await p.start({ verify: false });
    assert.deepEqual(
      p.instanceTypes().map((t) => [t.name, t.gpus]),
      [
        ["g4dn.xlarge", 1],
        ["g5.12xlarge", 4],
      ],
    );
  });

  test("create sends user data, tags, IMDSv2 and an encrypted root volume as stored by moto", async () => {
    const logger = recordingLogger();
    const p = await provider({ TAGS: "team=peerpods,env=test" }, logger);
    await p.start({ verify: true });
    const req = createRequest();
    const inst = await p.create(req);
    assert.match(inst.id, /^i-[0-9a-f]+$/);
    assert.equal(inst.name, req.name);

    const stored = await only(req.owner.sandboxId);
    assert.equal(stored.InstanceId, inst.id);
    assert.equal(stored.InstanceType, "m6a.large");
    assert.equal(stored.ImageId, world.amiId);
    assert.equal(stored.SubnetId, world.subnetId);
    assert.deepEqual(
      stored.SecurityGroups?.map((g) => g.GroupId),
      [world.securityGroupId],
    );
    assert.deepEqual(inst.ips, [stored.PrivateIpAddress]);
    assert.equal(stored.MetadataOptions?.HttpTokens, "required");
    assert.equal(stored.MetadataOptions?.HttpEndpoint, "enabled");

    const ud = await ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: inst.id, Attribute: "userData" }),
    );
    assert.equal(Buffer.from(ud.UserData?.Value ?? "", "base64").toString("utf8"), req.userData);

    const expectedTags = {
      Name: req.name,
      team: "peerpods",
      env: "test",
      [OWNER_TAG_KEYS.cluster]: "test-cluster",
      [OWNER_TAG_KEYS.node]: "worker-1",
      [OWNER_TAG_KEYS.sandboxId]: req.owner.sandboxId,
      [OWNER_TAG_KEYS.podName]: "nginx",
      [OWNER_TAG_KEYS.podNamespace]: "default",
    };
    const tagMap = (tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> =>
      Object.fromEntries((tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
    assert.deepEqual(tagMap(stored.Tags), expectedTags);
    assert.deepEqual(inst.tags, expectedTags);

    // moto registers every AMI with root /dev/sda1 of 15 GiB: ROOT_VOLUME_SIZE 30 stays.
    const root = stored.BlockDeviceMappings?.find((m) => m.DeviceName === stored.RootDeviceName);
    assert.ok(root?.Ebs?.VolumeId, `root device ${stored.RootDeviceName} mapped`);
    const vols = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [root.Ebs.VolumeId] }));
    const vol = vols.Volumes?.[0];
    assert.equal(vol?.Size, 30);
    assert.equal(vol?.VolumeType, "gp3");
    assert.equal(vol?.Encrypted, true);
    assert.deepEqual(tagMap(vol?.Tags), expectedTags);

    assert.ok(!logger.text().includes(req.owner.sandboxId + '"}'), "user data never logged");
    assert.ok(!logger.text().includes("write_files"), "user data never logged");
  });

  test("AWS_REQUIRE_IMDSV2=false launches without metadata options, as upstream, and logs the mode", async () => {
    const run = commandRecorder("RunInstancesCommand");
    const logger = recordingLogger();
    const p = await createAwsProvider(
      awsEnv(moto.url, world, { AWS_REQUIRE_IMDSV2: "false" }),
      { logger, stateDir: "/nonexistent" },
      run,
    );
    open.push(p);
    await p.start({ verify: false });
    const req = createRequest();
    await p.create(req);
    const sent = run.inputs as RunInstancesCommandInput[];
    assert.equal(sent.length, 1);
    assert.equal(sent[0].MetadataOptions, undefined, "no MetadataOptions in RunInstances");
    // With none sent, moto (like EC2) applies the defaults: tokens optional, i.e. IMDSv1 works.
    const stored = await only(req.owner.sandboxId);
    assert.equal(stored.MetadataOptions?.HttpTokens, "optional");
    assert.match(
      logger.text(),
      /IMDS mode: no metadata options sent \(AWS_REQUIRE_IMDSV2=false, as upstream\)/,
    );
    assert.equal(p.agentConnectHint(), undefined);

    const strictLog = recordingLogger();
    const strict = await provider({}, strictLog);
    assert.match(strictLog.text(), /IMDS mode: IMDSv2 only \(HttpTokens=required, hop limit 1\)/);
    assert.match(strict.agentConnectHint() ?? "", /set AWS_REQUIRE_IMDSV2=false/);
  });

  test("EXTERNAL_NETWORK_VIA_PODVM: a secondary interface at device index 1, deleted with the instance", async () => {
    const logger = recordingLogger();
    const modify = commandRecorder("ModifyNetworkInterfaceAttributeCommand");
    const p = await createAwsProvider(awsEnv(moto.url, world), { logger, stateDir: "/nonexistent" }, modify);
    open.push(p);
    await p.start({ verify: false });
    const req = createRequest({ spec: { multiNic: true } });
    const inst = await p.create(req);
    const nics = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: "attachment.instance-id", Values: [inst.id] }],
      }),
    );
    const byIndex = new Map(
      (nics.NetworkInterfaces ?? []).map((n) => [n.Attachment?.DeviceIndex, n] as const),
    );
    assert.deepEqual([...byIndex.keys()].sort(), [0, 1]);
    const secondary = byIndex.get(1)!;
    assert.equal(secondary.SubnetId, world.subnetId);
    // moto ignores the Attachment part of ModifyNetworkInterfaceAttribute: check what was asked.
    assert.deepEqual(modify.inputs, [
      {
        NetworkInterfaceId: secondary.NetworkInterfaceId,
        Attachment: { AttachmentId: secondary.Attachment?.AttachmentId, DeleteOnTermination: true },
      },
    ]);
    const tags = new Map((secondary.TagSet ?? []).map((t) => [t.Key, t.Value]));
    assert.equal(tags.get("Name"), `nic-${inst.id}`);
    assert.equal(tags.get(OWNER_TAG_KEYS.sandboxId), req.owner.sandboxId);
    assert.match(
      logger.text(),
      new RegExp(`attached secondary network interface ${secondary.NetworkInterfaceId}`),
    );

    const plain = createRequest();
    const one = await p.create(plain);
    const single = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: "attachment.instance-id", Values: [one.id] }],
      }),
    );
    assert.equal(single.NetworkInterfaces?.length, 1, "no second NIC without the setting");
  });

  test("get and list find instances by id and by owner tags", async () => {
    const p = await provider();
    await p.start({ verify: false });
    const a = createRequest({ owner: { node: "worker-a" } });
    const b = createRequest({ owner: { node: "worker-b" } });
    const [ia, ib] = await Promise.all([p.create(a), p.create(b)]);

    const got = await p.get(ia.id);
    assert.equal(got.id, ia.id);
    assert.deepEqual(got.ips, ia.ips);
    assert.equal(got.tags[OWNER_TAG_KEYS.sandboxId], a.owner.sandboxId);
    assert.ok(got.createdAt instanceof Date);

    const onA = await p.list({ cluster: "test-cluster", node: "worker-a" });
    assert.deepEqual(
      onA.map((i) => i.id),
      [ia.id],
    );
    const bySandbox = await p.list({ sandboxId: b.owner.sandboxId });
    assert.deepEqual(
      bySandbox.map((i) => i.id),
      [ib.id],
    );
    const cluster = (await p.list({ cluster: "test-cluster" })).map((i) => i.id);
    assert.ok(cluster.includes(ia.id) && cluster.includes(ib.id));
    assert.deepEqual(await p.list({ cluster: "other-cluster" }), []);
  });

  test("delete terminates; get then says NotFound; deleting again or an unknown id is fine", async () => {
    const p = await provider();
    await p.start({ verify: false });
    const req = createRequest();
    const inst = await p.create(req);
    await p.delete(inst.id);
    await assert.rejects(p.get(inst.id), NotFoundError);
    assert.deepEqual(await p.list({ sandboxId: req.owner.sandboxId }), []);
    await p.delete(inst.id);
    await p.delete("i-0123456789abcdef0");
    await assert.rejects(p.get("i-0123456789abcdef0"), NotFoundError);
  });

  test("public IP mode puts the association's public IP first", async () => {
    const p = await provider({ USE_PUBLIC_IP: "true" });
    await p.start({ verify: false });
    const req = createRequest();
    const inst = await p.create(req);
    const stored = await only(req.owner.sandboxId);
    const pub = stored.NetworkInterfaces?.[0]?.Association?.PublicIp;
    assert.ok(pub, "moto assigned a public IP");
    assert.deepEqual(inst.ips, [pub]);
    assert.equal(stored.NetworkInterfaces?.[0]?.SubnetId, world.subnetId);
    await p.delete(inst.id);
    await p.delete(inst.id);
  });

  test("the image annotation overrides the AMI and is logged as upstream does", async () => {
    const other = await seedWorld(ec2);
    const logger = recordingLogger();
    const p = await provider({}, logger);
    await p.start({ verify: false });
    const req = createRequest({ spec: { image: other.amiId } });
    await p.create(req);
    assert.equal((await only(req.owner.sandboxId)).ImageId, other.amiId);
    assert.match(logger.text(), new RegExp(`Choosing ${other.amiId} from annotation`));
    await assert.rejects(
      p.create(createRequest({ spec: { image: "ami-0000000000000dead" } })),
      (err: Error) => err instanceof InvalidConfigError && /InvalidAMIID\.NotFound/.test(err.message),
    );
  });

  test("a type without SEV-SNP is refused unless DISABLECVM, and nothing is created", async () => {
    const p = await provider({ PODVM_INSTANCE_TYPES: "m6a.large,t3.medium" });
    await p.start({ verify: false });
    const req = createRequest({ spec: { instanceType: "t3.medium" } });
    await assert.rejects(
      p.create(req),
      (err: Error) =>
        err instanceof InvalidConfigError && /t3\.medium does not support AMD SEV-SNP/.test(err.message),
    );
    assert.equal((await instancesOfSandbox(ec2, req.owner.sandboxId)).length, 0);

    const plain = await provider({ PODVM_INSTANCE_TYPES: "m6a.large,t3.medium", DISABLECVM: "true" });
    await plain.start({ verify: false });
    const ok = createRequest({ spec: { instanceType: "t3.medium" } });
    await plain.create(ok);
    assert.equal((await only(ok.owner.sandboxId)).InstanceType, "t3.medium");
  });

  test("a bogus AMI fails start() with the AWS code", async () => {
    const p = await provider({ PODVM_AMI_ID: "ami-0123456789abcdef0" });
    await assert.rejects(p.start({ verify: false }), (err: Error) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.equal(
        err.message,
        "PODVM_AMI_ID ami-0123456789abcdef0: InvalidAMIID.NotFound: The image id '[ami-0123456789abcdef0]' does not exist: not found",
      );
      return true;
    });
  });

  test("a bogus instance type fails start() naming it", async () => {
    const p = await provider({ PODVM_INSTANCE_TYPES: "m6a.large,m6a.bogus" });
    await assert.rejects(p.start({ verify: false }), (err: Error) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.match(err.message, /m6a\.bogus/);
      assert.match(err.message, /InvalidInstanceType/);
      return true;
    });
    const d = await provider({ PODVM_INSTANCE_TYPE: "x9.huge" });
    await assert.rejects(d.start({ verify: false }), /x9\.huge.*InvalidInstanceType/);
  });

  test("CLOUD_CONFIG_VERIFY: empty AMI and unknown subnet are clear errors", async () => {
    const p = await provider({ PODVM_AMI_ID: "" });
    await assert.rejects(p.start({ verify: true }), /^InvalidConfigError: ImageId is empty/);
    const s = await provider({ AWS_SUBNET_ID: "subnet-0123456789abcdef0" });
    await assert.rejects(
      s.start({ verify: true }),
      /AWS_SUBNET_ID subnet-0123456789abcdef0 not usable: AWS InvalidSubnetID\.NotFound/,
    );
  });

  test("user data larger than EC2 accepts is refused before any call", async () => {
    const calls: string[] = [];
    const p = await createAwsProvider(awsEnv(moto.url, world), {
      logger: recordingLogger(),
      stateDir: "/nonexistent",
      onCloudCall: (_provider, op) => calls.push(op),
    });
    open.push(p);
    await p.start({ verify: false });
    calls.length = 0;
    const req = createRequest({ userData: `#cloud-config\n${"x".repeat(17000)}` });
    await assert.rejects(p.create(req), /user data is 17014 bytes, EC2 allows 16384/);
    assert.deepEqual(calls, []);
  });

  describe("IMDS fallbacks", () => {
    let imds: Server;
    let imdsUrl: string;
    const tokens: string[] = [];

    before(async () => {
      await ec2.send(new CreateKeyPairCommand({ KeyName: "worker-key" }));
      const mac = "0e:00:00:00:00:01";
      const data: Record<string, string> = {
        mac,
        "placement/region": "us-east-1",
        "public-keys": "0=worker-key",
        [`network/interfaces/macs/${mac}/subnet-id`]: world.subnetId,
        [`network/interfaces/macs/${mac}/security-group-ids`]: world.securityGroupId,
      };
      imds = createServer((req, res) => {
        if (req.method === "PUT" && req.url === "/latest/api/token") return void res.end("tok-1");
        tokens.push(String(req.headers["x-aws-ec2-metadata-token"]));
        const value = data[(req.url ?? "").replace("/latest/meta-data/", "")];
        res.writeHead(value === undefined ? 404 : 200).end(value ?? "");
      });
      await new Promise<void>((resolve) => imds.listen(0, "127.0.0.1", resolve));
      const addr = imds.address();
      imdsUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    });

    after(() => new Promise<void>((resolve) => imds.close(() => resolve())));

    test("region, subnet, security groups and key name come from IMDS when unset", async () => {
      const env = awsEnv(moto.url, world, { AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsUrl });
      for (const k of ["AWS_REGION", "AWS_SUBNET_ID", "AWS_SG_IDS", "AWS_EC2_METADATA_DISABLED"])
        delete env[k];
      const p = await createAwsProvider(env, { logger: recordingLogger(), stateDir: "/nonexistent" });
      open.push(p);
      await p.start({ verify: true });
      const req = createRequest();
      await p.create(req);
      const stored = await only(req.owner.sandboxId);
      assert.equal(stored.SubnetId, world.subnetId);
      assert.equal(stored.KeyName, "worker-key");
      assert.ok(tokens.length >= 4 && tokens.every((t) => t === "tok-1"), "IMDSv2 token sent");
    });
  });
});
