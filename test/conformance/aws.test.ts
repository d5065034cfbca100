// `caa conformance --provider aws` against moto (docs/testing.md) passes, writes JUnit, and
// leaves no instance of its run in moto, checked with moto's own API rather than the provider's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
import { needsMoto, startMoto } from "../helpers/moto.ts";
import { awsEnv, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";
import { runSuite } from "./fixtures/run-suite.ts";

const skip = needsMoto();

test(
  "caa conformance --provider aws passes against moto and leaves nothing running",
  { skip, timeout: 240_000 },
  async (t) => {
    const moto = await startMoto();
    const ec2 = motoClient(moto.url);
    t.after(async () => {
      ec2.destroy();
      await moto.stop();
    });
    const world = await seedWorld(ec2);
    const run = await runSuite(
      "aws",
      awsEnv(moto.url, world, { PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge,m6a.2xlarge" }),
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^aws: 10 passed, 0 failed, 0 skipped .* — CONFORMANT$/m);
    assert.match(
      run.junit,
      /<testsuite name="conformance.aws" tests="10" failures="0" errors="0" skipped="0"/,
    );

    assert.ok(run.cluster, "the run names its cluster tag");
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: `tag:${OWNER_TAG_KEYS.cluster}`, Values: [run.cluster] }],
      }),
    );
    const all = out.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
    assert.ok(all.length >= 10, `moto saw the run's instances (${all.length})`);
    const live = all.filter((i) => !["shutting-down", "terminated"].includes(i.State?.Name ?? ""));
    assert.deepEqual(
      live.map((i) => `${i.InstanceId} ${i.State?.Name}`),
      [],
      "every instance of the run is terminated",
    );
  },
);
