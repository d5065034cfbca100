// moto's real RunInstances and TerminateInstances answers read by the lean path
// (providers/aws/query/answers.ts) and by the AWS SDK's own deserialiser: every field the lean
// reader gives equals the SDK's, and the fields the provider uses are there. The requests are
// the provider's (run-request.ts), sent with the lean path's form, signer and transport.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateKeyPairCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { rootOf, runInstancesOutput, terminateInstancesOutput } from "../../providers/aws/query/answers.ts";
import { postForm } from "../../providers/aws/query/plugin.ts";
import { queryForm } from "../../providers/aws/query/served.ts";
import { Transport } from "../../providers/aws/query/transport.ts";
import { buildRunInstancesInput, clientToken, type RunPlan } from "../../providers/aws/run-request.ts";
import { createRequest } from "../helpers/aws-requests.ts";
import { sendCanned, type ServedCommand } from "../helpers/ec2-canned.ts";
import { motoClient, REGION, seedWorld, type MotoWorld } from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";
import { MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY } from "../helpers/test-secrets.ts";

const CREDS = { accessKeyId: MOTO_ACCESS_KEY_ID, secretAccessKey: MOTO_SECRET_ACCESS_KEY };

/** `value` with only the members `shape` has, recursively (arrays element by element). */
function projected(value: unknown, shape: unknown): unknown {
  if (Array.isArray(shape) && Array.isArray(value)) return value.map((v, i) => projected(v, shape[i]));
  if (shape instanceof Date || typeof shape !== "object" || shape === null) return value;
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(shape))
    out[k] = projected((value as Record<string, unknown>)[k], (shape as never)[k]);
  return out;
}

/** The SDK's output for a recorded answer body. */
async function sdkRead(command: ServedCommand, body: string) {
  return (await sendCanned(command, body)).output;
}

describe(
  "lean EC2 calls read moto's answers as the SDK does",
  { skip: needsMoto(), timeout: 120_000 },
  () => {
    let moto: Moto;
    let ec2: EC2Client;
    let world: MotoWorld;
    const transport = new Transport({ connectMs: 5_000, requestMs: 30_000 });

    /** moto's raw answer to one call sent the lean way. */
    async function rawAnswer(command: string, input: object): Promise<string> {
      const form = queryForm(command, input);
      assert.ok(form);
      const answer = await postForm(transport, new URL(moto.url), form.body, {
        creds: CREDS,
        region: REGION,
        now: new Date(),
      });
      assert.equal(answer.status, 200, answer.body);
      return answer.body;
    }

    const plan = (over: Partial<RunPlan>): RunPlan => {
      const req = createRequest();
      return {
        name: req.name,
        userData: req.userData,
        owner: req.owner,
        tags: { team: "lean & mean" },
        clientToken: clientToken(req.owner.sandboxId, "t3.small", 0),
        rootDeviceName: "/dev/xvda",
        rootVolumeSize: 20,
        imageId: world.amiId,
        instanceType: "t3.small",
        subnetId: world.subnetId,
        securityGroupIds: [world.securityGroupId],
        keyName: "",
        usePublicIp: false,
        sevSnp: false,
        requireImdsv2: true,
        ...over,
      };
    };

    before(async () => {
      moto = await startMoto();
      ec2 = motoClient(moto.url);
      world = await seedWorld(ec2);
      await ec2.send(new CreateKeyPairCommand({ KeyName: "lean-key" }));
    });

    after(async () => {
      transport.destroy();
      ec2?.destroy();
      await moto?.stop();
    });

    const modes: Record<string, Partial<RunPlan>> = {
      "private IP, subnet and security groups": {},
      "public IP through the network interface, a key pair": { usePublicIp: true, keyName: "lean-key" },
    };
    for (const [what, over] of Object.entries(modes)) {
      test(`RunInstances: ${what}`, async () => {
        const p = plan(over);
        const input = buildRunInstancesInput(p);
        const xml = await rawAnswer("RunInstancesCommand", input);
        const ours = runInstancesOutput(rootOf(xml));
        const sdk = await sdkRead(new RunInstancesCommand(input), xml);
        assert.deepEqual(ours, projected(sdk, ours));

        const inst = ours.Instances?.[0];
        assert.ok(inst, "one instance in the answer");
        assert.match(inst.InstanceId ?? "", /^i-[0-9a-f]+$/);
        assert.equal(inst.State?.Name, "pending");
        assert.ok(inst.LaunchTime instanceof Date && !Number.isNaN(inst.LaunchTime.getTime()));
        assert.match(inst.PrivateIpAddress ?? "", /^\d+\.\d+\.\d+\.\d+$/);
        assert.equal(inst.ImageId, world.amiId);
        assert.equal(inst.SubnetId, world.subnetId);
        assert.ok(inst.Placement?.AvailabilityZone?.startsWith(REGION));
        assert.deepEqual(
          inst.Tags?.find((t) => t.Key === "team"),
          { Key: "team", Value: "lean & mean" },
          "tag values are decoded",
        );
        assert.equal(inst.NetworkInterfaces?.[0]?.Attachment?.DeviceIndex, 0);
        if (p.usePublicIp) {
          assert.equal(inst.KeyName, "lean-key");
          assert.match(inst.NetworkInterfaces?.[0]?.Association?.PublicIp ?? "", /^\d+\.\d+\.\d+\.\d+$/);
        }
      });
    }

    test("TerminateInstances of two instances", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const xml = await rawAnswer("RunInstancesCommand", buildRunInstancesInput(plan({})));
        ids.push(runInstancesOutput(rootOf(xml)).Instances?.[0]?.InstanceId ?? "");
      }
      const input = { InstanceIds: ids };
      const xml = await rawAnswer("TerminateInstancesCommand", input);
      const ours = terminateInstancesOutput(rootOf(xml));
      const sdk = await sdkRead(new TerminateInstancesCommand(input), xml);
      assert.deepEqual(ours, projected(sdk, ours));
      assert.deepEqual(ours.TerminatingInstances?.map((t) => t.InstanceId).sort(), [...ids].sort());
      for (const t of ours.TerminatingInstances ?? []) {
        assert.equal(t.CurrentState?.Name, "shutting-down");
        assert.ok(t.PreviousState?.Name);
      }
    });
  },
);
