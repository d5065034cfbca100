// `caa conformance --provider aws` against moto (reference/testbed.md) passes, writes JUnit, and
// leaves no instance of its run in moto, checked with moto's own API rather than the provider's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { conformanceCommand } from "../../src/conformance/command.ts";
import { OWNER_TAG_KEYS } from "../../providers/types.ts";
import { findMotoPython, startMoto } from "../helpers/moto.ts";
import { awsEnv, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";

const skip = findMotoPython() ? false : "no Python with moto on this machine (reference/testbed.md)";

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (c: Buffer) => (text += c.toString("utf8")));
  return { stream, text: () => text };
}

test(
  "caa conformance --provider aws passes against moto and leaves nothing running",
  { skip, timeout: 240_000 },
  async (t) => {
    const moto = await startMoto();
    const ec2 = motoClient(moto.url);
    const dir = await mkdtemp(path.join(os.tmpdir(), "caa-conformance-aws-"));
    t.after(async () => {
      ec2.destroy();
      await moto.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const world = await seedWorld(ec2);
    const junit = path.join(dir, "junit-conformance-aws.xml");
    const stdout = capture();
    const stderr = capture();
    const code = await conformanceCommand(["--provider", "aws", "--junit", junit], {
      env: awsEnv(moto.url, world, { PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge,m6a.2xlarge" }),
      stdout: stdout.stream,
      stderr: stderr.stream,
    });
    assert.equal(code, 0, `${stdout.text()}\n${stderr.text()}`);
    assert.match(stdout.text(), /^aws: 9 passed, 0 failed, 0 skipped .* — CONFORMANT$/m);
    assert.match(
      await readFile(junit, "utf8"),
      /<testsuite name="conformance.aws" tests="9" failures="0" errors="0" skipped="0"/,
    );

    const cluster = /run tag peerpod-cluster=(conformance-[0-9a-f]{8})/.exec(stdout.text())?.[1];
    assert.ok(cluster, "the run names its cluster tag");
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: `tag:${OWNER_TAG_KEYS.cluster}`, Values: [cluster] }],
      }),
    );
    const all = out.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
    assert.ok(all.length >= 9, `moto saw the run's instances (${all.length})`);
    const live = all.filter((i) => !["shutting-down", "terminated"].includes(i.State?.Name ?? ""));
    assert.deepEqual(
      live.map((i) => `${i.InstanceId} ${i.State?.Name}`),
      [],
      "every instance of the run is terminated",
    );
  },
);
