// Cloud API budgets on AWS against moto behind the fault proxy: EC2's published request-rate
// buckets enforced as EC2 does, a burst that meets no throttling error, deletes batched across
// sandboxes, and the unavailable-offerings cache seen from the requests EC2 gets.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { createAwsProvider, type AwsProvider } from "../../providers/aws/index.ts";
import { InsufficientCapacityError } from "../../providers/errors.ts";
import type { ProviderDeps } from "../../providers/types.ts";
import { UnavailableOfferings } from "../../src/capacity/unavailable-offerings.ts";
import { Metrics } from "../../src/ops/metrics.ts";
import { startOpsServer } from "../../src/ops/server.ts";
import { StartupCheck } from "../../src/ops/startup.ts";
import { createWithFallback } from "../../src/sandbox/capacity.ts";
import { FakeSandboxSource } from "../helpers/sandbox-source.ts";
import { createRequest, recordingLogger } from "../helpers/aws-requests.ts";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.ts";
import { awsEnv, motoClient, seedWorld, type MotoWorld } from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";

const skip = needsMoto();

describe("AWS cloud API budgets", { skip, timeout: 300_000 }, () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let ec2: EC2Client;
  let world: MotoWorld;
  const open: AwsProvider[] = [];

  const provider = async (extra: Record<string, string> = {}, deps: Partial<ProviderDeps> = {}) => {
    const env = awsEnv(proxy.url, world, { AWS_API_TIMEOUT: "20s", ...extra });
    const p = await createAwsProvider(env, { logger: recordingLogger(), stateDir: "/nonexistent", ...deps });
    open.push(p);
    await p.start({ verify: false });
    return p;
  };

  before(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.url);
    ec2 = motoClient(moto.url);
    world = await seedWorld(ec2);
    // moto loads its EC2 code paths lazily: one lifecycle before anything counts.
    const p = await provider();
    await p.delete((await p.create(createRequest())).id);
  });

  beforeEach(() => {
    proxy.setPlan({});
    proxy.resetCounts();
  });

  after(async () => {
    for (const p of open) await p.close();
    ec2?.destroy();
    await proxy?.stop();
    await moto?.stop();
  });

  test("30 creates at once under EC2's buckets all succeed; their 30 deletes go out as one DescribeAddresses, one DescribeVolumes and one TerminateInstances", async () => {
    const p = await provider();
    proxy.setPlan({ buckets: true });
    const reqs = Array.from({ length: 30 }, () => createRequest());
    const results = await Promise.allSettled(reqs.map((r) => p.create(r)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
    assert.deepEqual(failures, [], "no create failed (no throttling error reached the caller)");
    const ids = results.map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
    proxy.resetCounts();
    await Promise.all(ids.map((id) => p.delete(id)));
    assert.deepEqual(proxy.counts(), { DescribeAddresses: 1, DescribeVolumes: 1, TerminateInstances: 1 });
    for (const id of ids) await assert.rejects(p.get(id), { name: "NotFoundError" });
  });

  test("after one InsufficientInstanceCapacity the next 50 sandboxes never ask for that type while the entry is fresh, and ask again once it expired", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const offerings = new UnavailableOfferings({ ttlMs: 180_000, now: () => now });
    const p = await provider({
      PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge",
      AWS_API_RATE_LIMIT: "RunInstances=100:50",
    });
    const spec = { instanceType: "m6a.large" };
    const create = () => createWithFallback(p, createRequest({ spec }), { offerings });
    proxy.setPlan({ script: (action, n) => (action === "RunInstances" && n === 1 ? "capacity" : undefined) });
    await create();
    assert.deepEqual(proxy.runInstanceTypes(), { "m6a.large": 1, "m6a.xlarge": 1 });
    assert.deepEqual(
      offerings.list().map((o) => [o.instanceType, o.code]),
      [["m6a.large", "InsufficientInstanceCapacity"]],
    );

    now += 179_000;
    await Promise.all(Array.from({ length: 50 }, create));
    assert.deepEqual(proxy.runInstanceTypes(), { "m6a.large": 1, "m6a.xlarge": 51 });
    assert.equal(offerings.list()[0].skips, 50);

    now += 1_000;
    await create();
    assert.deepEqual(proxy.runInstanceTypes(), { "m6a.large": 2, "m6a.xlarge": 51 });
    assert.deepEqual(offerings.list(), []);
  });

  test("every fitting type remembered as unavailable: the create fails at once, naming them, without a RunInstances", async () => {
    const offerings = new UnavailableOfferings();
    offerings.mark("m6a.large", "InsufficientInstanceCapacity");
    offerings.mark("m6a.xlarge", "InsufficientInstanceCapacity");
    const p = await provider({ PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge" });
    const req = createRequest({ spec: { instanceType: "m6a.large" } });
    await assert.rejects(createWithFallback(p, req, { offerings }), (err: Error) => {
      assert.ok(err instanceof InsufficientCapacityError, String(err));
      assert.equal(err.code, "InsufficientInstanceCapacity");
      assert.match(err.message, /m6a\.large \(InsufficientInstanceCapacity\), m6a\.xlarge/);
      return true;
    });
    assert.equal(proxy.counts().RunInstances, undefined);
  });

  test("the admin API and the metrics show the queue while creates wait for tokens, and the cache's entry", async () => {
    const metrics = new Metrics();
    // One RunInstances token per 2 s: four of five concurrent creates wait in the queue.
    const p = await provider(
      {
        PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge",
        AWS_API_RATE_LIMIT: "RunInstances=1:0.5,describe=100:20",
      },
      { onCloudQueueWait: (name, family, ms) => metrics.cloudApi.observeWait(name, family, ms) },
    );
    const offerings = new UnavailableOfferings();
    const ops = await startOpsServer({
      port: 0,
      source: new FakeSandboxSource(),
      metrics,
      startup: new StartupCheck({ socketPath: "/nonexistent" }),
      cloudApi: {
        families: () => p.apiBudget(),
        unavailableOfferings: () => offerings.list(),
        skips: () => offerings.skipped,
      },
    });
    try {
      proxy.setPlan({
        script: (action, n) => (action === "RunInstances" && n === 1 ? "capacity" : undefined),
      });
      const spec = { instanceType: "m6a.large" };
      const creates = Array.from({ length: 5 }, () =>
        createWithFallback(p, createRequest({ spec }), { offerings }),
      );
      type Family = { family: string; queued: number; callers: number };
      let view: { families: Family[]; unavailableOfferings: { instanceType: string; code: string }[] };
      let runs: Family | undefined;
      for (;;) {
        view = (await (await fetch(`${ops.address}/v1/cloud-api`)).json()) as typeof view;
        runs = view.families.find((f) => f.family === "RunInstances");
        if ((runs?.queued ?? 0) >= 3 && view.unavailableOfferings.length > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(runs && runs.callers >= 3, JSON.stringify(runs));
      assert.deepEqual(
        view.unavailableOfferings.map((o) => [o.instanceType, o.code]),
        [["m6a.large", "InsufficientInstanceCapacity"]],
      );
      const text = await (await fetch(`${ops.address}/metrics`)).text();
      const queued = /^caa_cloud_api_queue_length\{family="RunInstances"\} (\d+)$/m.exec(text);
      assert.ok(queued && Number(queued[1]) >= 1, "queue length of RunInstances in /metrics");
      assert.match(
        text,
        /^caa_unavailable_offerings\{instance_type="m6a\.large",zone="",code="InsufficientInstanceCapacity"\} 1$/m,
      );
      await Promise.all(creates);
      // The four that chose m6a.large before the entry existed asked for it; the next one does not.
      const asked = proxy.runInstanceTypes()["m6a.large"];
      await createWithFallback(p, createRequest({ spec }), { offerings });
      assert.equal(proxy.runInstanceTypes()["m6a.large"], asked);
      const after = await (await fetch(`${ops.address}/metrics`)).text();
      assert.match(after, /^caa_unavailable_offering_skips 1$/m);
      assert.match(
        after,
        /^caa_cloud_api_queue_wait_seconds_count\{provider="aws",family="RunInstances"\} [1-9]/m,
      );
    } finally {
      await ops.close();
    }
  });

  test("a lookup cancelled inside the batch window is left out of the one DescribeInstances; the others get their instances", async () => {
    const p = await provider();
    const made = await Promise.all([1, 2, 3].map(() => p.create(createRequest())));
    const asked: string[][] = [];
    proxy.setPlan({
      script: (action, _n, params) => {
        if (action === "DescribeInstances")
          asked.push([...params].filter(([k]) => /^Filter\.1\.Value\.\d+$/.test(k)).map(([, v]) => v));
        return undefined;
      },
    });
    proxy.resetCounts();
    const ac = new AbortController();
    const [a, gone, c] = [p.get(made[0].id), p.get(made[1].id, ac.signal), p.get(made[2].id)];
    ac.abort();
    await assert.rejects(gone, (err: Error) => (err.cause as Error | undefined)?.name === "AbortError");
    assert.deepEqual(
      (await Promise.all([a, c])).map((i) => i.id),
      [made[0].id, made[2].id],
    );
    assert.deepEqual(proxy.counts(), { DescribeInstances: 1 });
    assert.deepEqual(
      asked.map((ids) => ids.sort()),
      [[made[0].id, made[2].id].sort()],
    );
    await Promise.all(made.map((i) => p.delete(i.id)));
  });
});
