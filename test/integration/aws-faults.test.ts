// Cloud faults between the AWS SDK and moto (docs/background.md §0): throttling,
// 5xx and dropped connections, before and after moto acted. Every sandbox must end with
// exactly one instance, or a clean failure that leaves nothing behind.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { createAwsProvider, type AwsProvider } from "../../providers/aws/index.ts";
import { InsufficientCapacityError, ProviderError, ThrottledError } from "../../providers/errors.ts";
import { createWithFallback } from "../../src/sandbox/capacity.ts";
import { createRequest, recordingLogger } from "../helpers/aws-requests.ts";
import { startFaultProxy, type Fault, type FaultProxy } from "../helpers/fault-proxy.ts";
import {
  awsEnv,
  instancesOfSandbox,
  motoClient,
  seedWorld,
  type MotoWorld,
} from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";

const skip = needsMoto();

const FAST_RETRIES = {
  AWS_API_RETRY_BASE_DELAY: "5ms",
  AWS_API_RETRY_MAX_DELAY: "80ms",
  AWS_API_RETRY_BUDGET: "10s",
  AWS_API_MAX_ATTEMPTS: "8",
  AWS_API_TIMEOUT: "10s",
};

describe("AWS provider under injected cloud faults", { skip, timeout: 300_000 }, () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let ec2: EC2Client;
  let world: MotoWorld;
  const open: AwsProvider[] = [];

  const provider = async (extra: Record<string, string> = {}) => {
    const env = awsEnv(proxy.url, world, { ...FAST_RETRIES, ...extra });
    const p = await createAwsProvider(env, { logger: recordingLogger(), stateDir: "/nonexistent" });
    open.push(p);
    await p.start({ verify: false });
    proxy.resetCounts();
    return p;
  };

  const live = async (sandbox: string) =>
    (await instancesOfSandbox(ec2, sandbox)).filter((i) => i.State?.Name !== "shutting-down");

  before(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.url);
    ec2 = motoClient(moto.url);
    world = await seedWorld(ec2);
  });

  beforeEach(() => proxy.setPlan({}));

  after(async () => {
    for (const p of open) await p.close();
    ec2?.destroy();
    await proxy?.stop();
    await moto?.stop();
  });

  test("concurrent creates and deletes under throttles, 503s and dropped connections: one instance each or nothing", async (t) => {
    const p = await provider();
    const firstRun: Fault[] = ["drop-after", "drop-before", "throttle", "unavailable", "drop-after"];
    proxy.setPlan({
      rate: 0.3,
      seed: 7,
      // The first RunInstances calls get each kind of fault for sure; then 30% of every call.
      script: (action, n) => (action === "RunInstances" ? firstRun[n - 1] : undefined),
    });
    const reqs = Array.from({ length: 24 }, () => createRequest());
    const results = await Promise.allSettled(reqs.map((r) => p.create(r)));
    proxy.setPlan({});

    const injected = proxy.injected();
    for (const kind of ["throttle", "unavailable", "drop-before", "drop-after"])
      assert.ok((injected[kind] ?? 0) > 0, `${kind} injected (${JSON.stringify(injected)})`);

    let created = 0;
    for (const [i, r] of results.entries()) {
      const found = await live(reqs[i].owner.sandboxId);
      if (r.status === "fulfilled") {
        created++;
        assert.deepEqual(
          found.map((f) => f.InstanceId),
          [r.value.id],
          `sandbox ${i}: exactly its one instance`,
        );
        assert.ok(r.value.ips.length > 0);
      } else {
        assert.ok(r.reason instanceof ProviderError, `sandbox ${i}: typed error, got ${String(r.reason)}`);
        assert.match((r.reason as Error).message, /AWS \S+/);
        assert.deepEqual(found, [], `sandbox ${i}: nothing left behind after ${(r.reason as Error).message}`);
      }
    }
    t.diagnostic(`${created}/${reqs.length} created; faults ${JSON.stringify(injected)}`);
    assert.ok(
      created >= reqs.length - 2,
      `most creates succeed within the budget (${created}/${reqs.length})`,
    );

    proxy.setPlan({ rate: 0.3, seed: 11 });
    const ids = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.id] : []));
    const deletes = await Promise.allSettled(ids.map((id) => p.delete(id)));
    proxy.setPlan({});
    for (const d of deletes)
      if (d.status === "rejected") await assert.doesNotReject(p.delete(ids[deletes.indexOf(d)]));
    for (const r of reqs) assert.deepEqual(await live(r.owner.sandboxId), [], "terminated");
  });

  test("under heavy faults a failed create leaves nothing, or says its outcome is unknown and settles on retry", async (t) => {
    const p = await provider({ AWS_API_MAX_ATTEMPTS: "2" });
    proxy.setPlan({ rate: 0.5, seed: 3 });
    const reqs = Array.from({ length: 16 }, () => createRequest());
    const results = await Promise.allSettled(reqs.map((r) => p.create(r)));
    proxy.setPlan({});
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i] : []));
    t.diagnostic(
      `${reqs.length - failed.length}/${reqs.length} created; faults ${JSON.stringify(proxy.injected())}`,
    );
    assert.ok(failed.length > 0, "some creates fail at this fault rate");
    for (const [i, r] of results.entries()) {
      const found = await live(reqs[i].owner.sandboxId);
      if (r.status === "fulfilled") {
        assert.deepEqual(
          found.map((f) => f.InstanceId),
          [r.value.id],
        );
        continue;
      }
      const err = r.reason as ProviderError;
      assert.ok(err instanceof ProviderError, String(err));
      if (found.length > 0)
        assert.match(err.message, /outcome unknown/, "an instance is left only when said so");
      else assert.equal(found.length, 0);
    }
    const runsBefore = proxy.counts().RunInstances ?? 0;
    const retried = await Promise.all(failed.map((i) => p.create(reqs[i])));
    for (const [k, i] of failed.entries())
      assert.deepEqual(
        (await live(reqs[i].owner.sandboxId)).map((f) => f.InstanceId),
        [retried[k].id],
        "the retry settles on exactly one instance",
      );
    assert.ok((proxy.counts().RunInstances ?? 0) - runsBefore <= failed.length);
  });

  test("a RunInstances answer lost after moto acted is found by the sandbox tag, not created twice", async () => {
    const p = await provider();
    proxy.setPlan({
      script: (action, n) => (action === "RunInstances" && n === 1 ? "drop-after" : undefined),
    });
    const req = createRequest();
    const inst = await p.create(req);
    assert.equal(proxy.counts().RunInstances, 1);
    assert.ok((proxy.counts().DescribeInstances ?? 0) >= 1);
    assert.deepEqual(
      (await live(req.owner.sandboxId)).map((i) => i.InstanceId),
      [inst.id],
    );
  });

  test("an unknown outcome is looked up on the next create of the same sandbox", async () => {
    const p = await provider({ AWS_API_MAX_ATTEMPTS: "3" });
    let lookupsFail = true;
    proxy.setPlan({
      script: (action, n) => {
        if (action === "RunInstances" && n === 1) return "drop-after";
        if (action === "DescribeInstances" && lookupsFail) return "drop-before";
        return undefined;
      },
    });
    const req = createRequest();
    await assert.rejects(p.create(req), (err: Error) => {
      assert.ok(err instanceof ProviderError);
      assert.equal(err.code, "ECONNRESET");
      assert.match(err.message, /outcome unknown/);
      return true;
    });
    assert.equal((await live(req.owner.sandboxId)).length, 1, "moto made the instance");
    lookupsFail = false;
    const inst = await p.create(req);
    assert.equal(proxy.counts().RunInstances, 1, "not run again");
    assert.deepEqual(
      (await live(req.owner.sandboxId)).map((i) => i.InstanceId),
      [inst.id],
    );
  });

  test("throttling past the budget is a ThrottledError naming RequestLimitExceeded, with nothing created", async () => {
    const p = await provider({ AWS_API_MAX_ATTEMPTS: "4" });
    proxy.setPlan({ script: (action) => (action === "RunInstances" ? "throttle" : undefined) });
    const req = createRequest();
    await assert.rejects(p.create(req), (err: Error) => {
      assert.ok(err instanceof ThrottledError, String(err));
      assert.equal(err.code, "RequestLimitExceeded");
      assert.match(err.message, /AWS RequestLimitExceeded: .* \(after 4 attempts\); retry budget exhausted/);
      return true;
    });
    assert.equal(proxy.counts().RunInstances, 4);
    assert.deepEqual(await live(req.owner.sandboxId), []);
  });

  test("InsufficientInstanceCapacity moves on to the next larger allowed type", async () => {
    const p = await provider({ PODVM_INSTANCE_TYPES: "m6a.large,c6a.large,m6a.xlarge,m6a.2xlarge" });
    proxy.setPlan({ script: (action, n) => (action === "RunInstances" && n === 1 ? "capacity" : undefined) });
    const req = createRequest({ spec: { instanceType: "m6a.large" } });
    await createWithFallback(p, req);
    const [inst] = await live(req.owner.sandboxId);
    assert.equal(inst.InstanceType, "m6a.xlarge");
    assert.equal(proxy.counts().RunInstances, 2);
  });

  test("no capacity for any fitting type: InsufficientCapacityError names the code and the types tried", async () => {
    const p = await provider({ PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge,m6a.2xlarge" });
    proxy.setPlan({ script: (action) => (action === "RunInstances" ? "capacity" : undefined) });
    const req = createRequest({ spec: { instanceType: "m6a.large" } });
    await assert.rejects(createWithFallback(p, req), (err: Error) => {
      assert.ok(err instanceof InsufficientCapacityError, String(err));
      assert.equal(err.code, "InsufficientInstanceCapacity");
      assert.match(
        err.message,
        /AWS InsufficientInstanceCapacity for m6a\.large in us-east-1; tried m6a\.xlarge \(InsufficientInstanceCapacity\), m6a\.2xlarge/,
      );
      return true;
    });
    assert.equal(proxy.counts().RunInstances, 3, "capacity errors are not retried in place");
    assert.deepEqual(await live(req.owner.sandboxId), []);
  });
});
