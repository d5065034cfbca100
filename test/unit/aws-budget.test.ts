// The EC2 call layer inside the real SDK client, with the EC2 stand-in below it: one sandbox's
// throttled retries wait their turn behind the other sandboxes' calls, and a throttle holds the
// family's queue instead of the caller sleeping on its own. Ordering is asserted, never time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAwsProvider } from "../../providers/aws/index.ts";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
import { createRequest, recordingLogger } from "../helpers/aws-requests.ts";
import { ec2Error, Ec2Stub } from "../helpers/ec2-stub.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "us-east-1",
  AWS_EC2_METADATA_DISABLED: "true",
  PODVM_AMI_ID: "ami-0abc",
  AWS_SUBNET_ID: "subnet-0abc",
  AWS_SG_IDS: "sg-0abc",
  // One RunInstances token at a time, refilled fast: the queue orders the calls.
  AWS_API_RATE_LIMIT: "RunInstances=1:100,describe=100:20",
};

function sandboxOf(input: Record<string, unknown>): string | undefined {
  const specs = input.TagSpecifications as Array<{ Tags: Array<{ Key: string; Value: string }> }>;
  return specs[0].Tags.find((t) => t.Key === OWNER_TAG_KEYS.sandboxId)?.Value;
}

test("one sandbox's throttled retries do not starve the others: its retry waits behind every other sandbox's call", async () => {
  const stub = new Ec2Stub();
  const p = await createAwsProvider(
    ENV,
    { logger: recordingLogger(), stateDir: "/nonexistent" },
    { customizeClient: (c) => stub.install(c) },
  );
  await p.start({ verify: false });
  const unlucky = createRequest();
  let unluckyAttempts = 0;
  stub.handlers.RunInstances = async (input) => {
    if (sandboxOf(input) === unlucky.owner.sandboxId && ++unluckyAttempts <= 3) {
      // Answer late, so that the other sandboxes' calls are queued while this one is out.
      await new Promise((r) => setTimeout(r, 20));
      throw ec2Error("RequestLimitExceeded", 503);
    }
    return { Instances: [stub.launch(input)] };
  };
  stub.calls.length = 0;
  const others = Array.from({ length: 5 }, () => createRequest());
  await Promise.all([unlucky, ...others].map((r) => p.create(r)));
  const order = stub.of("RunInstances").map((i) => (sandboxOf(i) === unlucky.owner.sandboxId ? "u" : "o"));
  assert.equal(order.length, 9, order.join(""));
  assert.equal(order[0], "u", "the unlucky sandbox asked first");
  assert.equal(
    order.slice(1, 6).join(""),
    "ooooo",
    `its retry came after every other sandbox (${order.join("")})`,
  );
  assert.equal(p.apiBudget().find((f) => f.family === "RunInstances")?.throttles, 3);
  await p.close();
});
