// Request shapes moto does not check (it ignores ClientToken and CpuOptions): the real SDK
// client and provider, with an EC2 stand-in in the middleware stack below the retry wrapper.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAwsProvider } from "../../providers/aws/index.ts";
import { InvalidConfigError, PartialCreateError } from "../../providers/errors.ts";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
import { createWithFallback } from "../../src/sandbox/capacity.ts";
import { createRequest, recordingLogger } from "../helpers/aws-requests.ts";
import { connectionReset, ec2Error, Ec2Stub } from "../helpers/ec2-stub.ts";

const BASE_ENV = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "us-east-1",
  AWS_EC2_METADATA_DISABLED: "true",
  PODVM_AMI_ID: "ami-0abc",
  AWS_SUBNET_ID: "subnet-0abc",
  AWS_SG_IDS: "sg-0abc,sg-0def",
  AWS_API_RETRY_BASE_DELAY: "1ms",
  AWS_API_RETRY_MAX_DELAY: "2ms",
};

async function setup(env: Record<string, string> = {}, stub = new Ec2Stub()) {
  const cloudCalls: string[] = [];
  const p = await createAwsProvider(
    { ...BASE_ENV, ...env },
    {
      logger: recordingLogger(),
      stateDir: "/nonexistent",
      onCloudCall: (_p, op, outcome) => cloudCalls.push(`${op}:${outcome}`),
    },
    { customizeClient: (c) => stub.install(c) },
  );
  await p.start({ verify: false });
  stub.calls.length = 0;
  cloudCalls.length = 0;
  return { p, stub, cloudCalls };
}

describe("RunInstances request", () => {
  test("carries base64 user data, Name + TAGS + owner tags on instance and volume, IMDSv2 and the root volume", async () => {
    const { p, stub } = await setup({ TAGS: "team=a,Name=ignored" });
    const req = createRequest();
    await p.create(req);
    const [input] = stub.of("RunInstances");
    assert.equal(Buffer.from(input.UserData as string, "base64").toString(), req.userData);
    const tags = [
      { Key: "Name", Value: req.name },
      { Key: "team", Value: "a" },
      { Key: OWNER_TAG_KEYS.cluster, Value: "test-cluster" },
      { Key: OWNER_TAG_KEYS.node, Value: "worker-1" },
      { Key: OWNER_TAG_KEYS.sandboxId, Value: req.owner.sandboxId },
      { Key: OWNER_TAG_KEYS.podName, Value: "nginx" },
      { Key: OWNER_TAG_KEYS.podNamespace, Value: "default" },
    ];
    assert.deepEqual(input.TagSpecifications, [
      { ResourceType: "instance", Tags: tags },
      { ResourceType: "volume", Tags: tags },
    ]);
    assert.deepEqual(input.MetadataOptions, {
      HttpTokens: "required",
      HttpEndpoint: "enabled",
      HttpPutResponseHopLimit: 1,
    });
    assert.deepEqual(input.BlockDeviceMappings, [
      {
        DeviceName: "/dev/xvda",
        Ebs: { VolumeType: "gp3", Encrypted: true, DeleteOnTermination: true, VolumeSize: 30 },
      },
    ]);
    assert.equal(input.ImageId, "ami-0abc");
    assert.equal(input.InstanceType, "m6a.large");
    assert.equal(input.SubnetId, "subnet-0abc");
    assert.deepEqual(input.SecurityGroupIds, ["sg-0abc", "sg-0def"]);
    assert.equal(input.MinCount, 1);
    assert.equal(input.MaxCount, 1);
  });

  test("root volume: raised to the image size, capped at int32; ROOT_VOLUME_SIZE=0 leaves the size to the image", async () => {
    const big = new Ec2Stub();
    big.imageSizeGiB = 50;
    const { p } = await setup({}, big);
    await p.create(createRequest());
    assert.equal(
      (big.of("RunInstances")[0].BlockDeviceMappings as { Ebs: { VolumeSize: number } }[])[0].Ebs.VolumeSize,
      50,
    );

    const huge = await setup({ ROOT_VOLUME_SIZE: "99999999999" });
    await huge.p.create(createRequest());
    assert.equal(
      (huge.stub.of("RunInstances")[0].BlockDeviceMappings as { Ebs: { VolumeSize: number } }[])[0].Ebs
        .VolumeSize,
      2 ** 31 - 1,
    );

    const none = await setup({ ROOT_VOLUME_SIZE: "0" });
    await none.p.create(createRequest());
    assert.deepEqual(none.stub.of("RunInstances")[0].BlockDeviceMappings, [
      { DeviceName: "/dev/xvda", Ebs: { VolumeType: "gp3", Encrypted: true, DeleteOnTermination: true } },
    ]);
  });

  test("SSH_KP_NAME is sent as KeyName when set", async () => {
    const { p, stub } = await setup({ SSH_KP_NAME: "kp1" });
    await p.create(createRequest());
    assert.equal(stub.of("RunInstances")[0].KeyName, "kp1");
  });
});

describe("ClientToken", () => {
  test("is the same on every retry of one create, ≤ 64 chars, and deterministic per sandbox and type", async () => {
    const stub = new Ec2Stub();
    const { p, cloudCalls } = await setup({}, stub);
    stub.handlers.RunInstances = (input, n) => {
      if (n === 1) throw ec2Error("RequestLimitExceeded", 503);
      if (n === 2) throw ec2Error("InternalError", 500);
      return { Instances: [stub.launch(input)] };
    };
    const req = createRequest();
    await p.create(req);
    const tokens = stub.of("RunInstances").map((i) => i.ClientToken as string);
    assert.equal(tokens.length, 3);
    assert.equal(new Set(tokens).size, 1);
    assert.ok(tokens[0].length <= 64 && /^[\x21-\x7e]+$/.test(tokens[0]));
    assert.deepEqual(
      cloudCalls.filter((c) => c.startsWith("RunInstances")),
      ["RunInstances:RequestLimitExceeded", "RunInstances:InternalError", "RunInstances:ok"],
    );

    const again = await setup();
    await again.p.create(req);
    assert.equal(
      again.stub.of("RunInstances")[0].ClientToken,
      tokens[0],
      "a new daemon sends the same token",
    );
    await again.p.create(createRequest());
    assert.notEqual(
      again.stub.of("RunInstances")[1].ClientToken,
      tokens[0],
      "another sandbox, another token",
    );
  });

  test("after a dropped connection the sandbox is looked up before RunInstances is repeated with the same token", async () => {
    const stub = new Ec2Stub();
    const { p } = await setup({}, stub);
    stub.handlers.RunInstances = (input, n) => {
      if (n === 1) throw connectionReset();
      return { Instances: [stub.launch(input)] };
    };
    const req = createRequest();
    await p.create(req);
    assert.deepEqual(
      stub.calls.map((c) => c.op),
      ["RunInstances", "DescribeInstances", "RunInstances"],
    );
    assert.deepEqual(stub.of("DescribeInstances")[0].Filters, [
      { Name: `tag:${OWNER_TAG_KEYS.sandboxId}`, Values: [req.owner.sandboxId] },
      { Name: "instance-state-name", Values: ["pending", "running"] },
    ]);
    const [a, b] = stub.of("RunInstances");
    assert.equal(a.ClientToken, b.ClientToken);
  });

  test("after a dropped answer whose instance exists, that instance is used and nothing is repeated", async () => {
    const stub = new Ec2Stub();
    const { p } = await setup({}, stub);
    stub.handlers.RunInstances = (input) => {
      stub.launch(input);
      throw connectionReset();
    };
    const inst = await p.create(createRequest());
    assert.equal(inst.id, stub.instances[0].InstanceId);
    assert.equal(stub.of("RunInstances").length, 1);
  });

  test("a token EC2 answers with a terminated instance (an earlier create of this sandbox) moves to the next generation", async () => {
    const stub = new Ec2Stub();
    const { p } = await setup({}, stub);
    stub.handlers.RunInstances = (input, n) => {
      const inst = stub.launch(input);
      if (n === 1) inst.State = { Name: "terminated", Code: 48 };
      return { Instances: [inst] };
    };
    const inst = await p.create(createRequest());
    const [first, second] = stub.of("RunInstances").map((i) => i.ClientToken);
    assert.notEqual(first, second);
    assert.equal(inst.id, stub.instances[1].InstanceId);
  });
});

describe("SEV-SNP", () => {
  test("CpuOptions.AmdSevSnp is enabled by default and absent with DISABLECVM", async () => {
    const on = await setup();
    await on.p.create(createRequest());
    assert.deepEqual(on.stub.of("RunInstances")[0].CpuOptions, { AmdSevSnp: "enabled" });
    const off = await setup({ DISABLECVM: "true" });
    await off.p.create(createRequest());
    assert.equal(off.stub.of("RunInstances")[0].CpuOptions, undefined);
  });

  test("a type without SEV-SNP is refused with a clear error and no RunInstances", async () => {
    const { p, stub } = await setup({ PODVM_INSTANCE_TYPES: "m6a.large,t3.medium" });
    await assert.rejects(p.create(createRequest({ spec: { instanceType: "t3.medium" } })), (err: Error) => {
      assert.ok(err instanceof InvalidConfigError);
      assert.equal(err.code, "SevSnpUnsupported");
      assert.match(err.message, /t3\.medium does not support AMD SEV-SNP.*DISABLECVM=true/);
      return true;
    });
    assert.equal(stub.of("RunInstances").length, 0);
  });
});

describe("launch-template mode", () => {
  test("sends only the template, user data, tags, token, IMDSv2 and the root volume size", async () => {
    const { p, stub } = await setup({
      USE_PODVM_LAUNCHTEMPLATE: "true",
      PODVM_LAUNCHTEMPLATE_NAME: "podvm-lt",
    });
    const req = createRequest({ spec: { instanceType: "m6a.xlarge", image: "ami-0other" } });
    await p.create(req);
    const [input] = stub.of("RunInstances");
    assert.deepEqual(Object.keys(input).sort(), [
      "BlockDeviceMappings",
      "ClientToken",
      "LaunchTemplate",
      "MaxCount",
      "MetadataOptions",
      "MinCount",
      "TagSpecifications",
      "UserData",
    ]);
    assert.deepEqual(input.LaunchTemplate, { LaunchTemplateName: "podvm-lt" });
  });
});

describe("public IP", () => {
  test("goes through NetworkInterfaces, drops top-level subnet and groups, and the running waiter gives IPs[0]", async () => {
    const { p, stub } = await setup({ USE_PUBLIC_IP: "true" });
    const inst = await p.create(createRequest());
    const [input] = stub.of("RunInstances");
    assert.deepEqual(input.NetworkInterfaces, [
      {
        AssociatePublicIpAddress: true,
        DeviceIndex: 0,
        SubnetId: "subnet-0abc",
        Groups: ["sg-0abc", "sg-0def"],
        DeleteOnTermination: true,
      },
    ]);
    assert.equal(input.SubnetId, undefined);
    assert.equal(input.SecurityGroupIds, undefined);
    assert.deepEqual(stub.of("DescribeInstances")[0].InstanceIds, [inst.id]);
    assert.deepEqual(inst.ips, ["203.0.113.1"]);
  });
});

describe("InsufficientInstanceCapacity", () => {
  test("falls back to the next larger allowed type that fits and supports SEV-SNP, with its own token", async () => {
    const stub = new Ec2Stub();
    const { p } = await setup(
      { PODVM_INSTANCE_TYPES: "m6a.2xlarge,c6a.large,m5.xlarge,m6a.large,m6a.xlarge" },
      stub,
    );
    stub.handlers.RunInstances = (input, n) => {
      if (n === 1) throw ec2Error("InsufficientInstanceCapacity", 500);
      return { Instances: [stub.launch(input)] };
    };
    // Through the core's fallback, as StartVM calls it (src/sandbox/capacity.ts).
    await createWithFallback(
      p,
      createRequest({ spec: { instanceType: "m6a.large", vcpus: 2, memoryMiB: 8192 } }),
    );
    const runs = stub.of("RunInstances");
    assert.deepEqual(
      runs.map((r) => r.InstanceType),
      ["m6a.large", "m6a.xlarge"],
      "c6a.large is smaller, m5.xlarge has no SEV-SNP",
    );
    assert.notEqual(runs[0].ClientToken, runs[1].ClientToken);
  });
});

describe("IPs", () => {
  test("an instance without a private address yet is a PartialCreateError the caller must delete", async () => {
    const stub = new Ec2Stub();
    const { p } = await setup({}, stub);
    stub.handlers.RunInstances = (input) => {
      const inst = stub.launch(input);
      inst.NetworkInterfaces = [{ PrivateIpAddress: "0.0.0.0", Attachment: { DeviceIndex: 0 } }];
      return { Instances: [inst] };
    };
    await assert.rejects(p.create(createRequest()), (err: Error) => {
      assert.ok(err instanceof PartialCreateError);
      assert.equal(err.instance.id, stub.instances[0].InstanceId);
      assert.match(err.message, /address not ready/);
      return true;
    });
  });
});

describe("delete", () => {
  test("releases the instance's Elastic IPs, then terminates; an unknown instance is done", async () => {
    const stub = new Ec2Stub();
    const { p } = await setup({}, stub);
    stub.handlers.DescribeAddresses = () => ({
      Addresses: [{ AllocationId: "eipalloc-1", AssociationId: "eipassoc-1" }],
    });
    await p.delete("i-0000000000000001");
    // DescribeVolumes finds the pod's cloud volumes to detach (never delete) before terminating.
    assert.deepEqual(
      stub.calls.map((c) => c.op),
      ["DescribeAddresses", "DisassociateAddress", "ReleaseAddress", "DescribeVolumes", "TerminateInstances"],
    );
    assert.deepEqual(stub.of("DescribeAddresses")[0].Filters, [
      { Name: "instance-id", Values: ["i-0000000000000001"] },
    ]);

    stub.handlers.DescribeAddresses = () => ({ Addresses: [] });
    stub.handlers.TerminateInstances = () => {
      throw ec2Error("InvalidInstanceID.NotFound");
    };
    stub.handlers.DescribeInstances = () => {
      throw ec2Error("InvalidInstanceID.NotFound");
    };
    await p.delete("i-00000000000000ff");
  });
});
