import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeInstancesCommand, RunInstancesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { createAwsProvider, type AwsProvider } from "../../providers/aws/index.ts";
import local from "../../providers/local/index.ts";
import type { LocalProvider } from "../../providers/local/provider.ts";
import { OWNER_TAG_KEYS, type OwnerTags, type Provider } from "../../providers/types.ts";
import { kubeClients } from "../../src/k8s/client.ts";
import { PeerPodService } from "../../src/k8s/peerpod-service.ts";
import { LeakCollector, type LeakCollectorOptions } from "../../src/leak/collector.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { Metrics } from "../../src/ops/metrics.ts";
import { createRequest, recordingLogger } from "../helpers/aws-requests.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";
import { FakeProvider, ownerTags } from "../helpers/fake-provider.ts";
import { awsEnv, motoClient, seedWorld, type MotoWorld } from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";
import { FakeSandboxSource, sandboxView } from "../helpers/sandbox-source.ts";

const CLUSTER = "cluster-a";
const NODE = "worker-1";
const MIN = 60_000;
const T0 = Date.parse("2026-05-01T10:00:00Z");

function owner(over: Partial<OwnerTags> = {}): OwnerTags {
  return {
    cluster: CLUSTER,
    node: NODE,
    sandboxId: randomBytes(32).toString("hex"),
    podName: "web",
    podNamespace: "default",
    ...over,
  };
}

function collector(
  provider: Provider,
  source: FakeSandboxSource,
  over: Partial<LeakCollectorOptions> = {},
): LeakCollector {
  return new LeakCollector({
    provider,
    source,
    cluster: CLUSTER,
    node: NODE,
    logger: silentLogger(),
    ...over,
  });
}

describe("leak collector with an in-memory provider", () => {
  test("an orphan (our tags, no sandbox) is removed once older than the grace period, and counted", async () => {
    const p = new FakeProvider();
    const orphan = p.plant(ownerTags(owner()), new Date(T0));
    const metrics = new Metrics({ defaultMetrics: false });
    const log = captureLogger();
    let now = T0 + 1 * MIN;
    const c = collector(p, new FakeSandboxSource(), { now: () => now, metrics, logger: log.logger });
    assert.deepEqual(await c.runOnce(), { found: [], removed: [] });
    assert.ok(p.instances.has(orphan.id), "younger than the 2 min default grace: kept");
    now = T0 + 2 * MIN;
    const pass = await c.runOnce();
    assert.deepEqual(pass.removed, [orphan.id]);
    assert.deepEqual(
      pass.found.map((i) => i.id),
      [orphan.id],
    );
    assert.deepEqual(p.deleted, [orphan.id]);
    const text = await metrics.text();
    assert.match(text, /caa_leaked_instances_total\{event="found",provider="memory"\} 1/);
    assert.match(text, /caa_leaked_instances_total\{event="removed",provider="memory"\} 1/);
    const [line] = log.find(`deleted leaked instance ${orphan.id}`);
    assert.equal(line.reason, "orphan");
    assert.equal(line.sandbox, orphan.tags[OWNER_TAG_KEYS.sandboxId]);
  });

  test("instances of live and in-flight sandboxes are never touched, however old", async () => {
    const p = new FakeProvider();
    const live = p.plant(ownerTags(owner()), new Date(T0));
    const known = p.plant(ownerTags(owner()), new Date(T0));
    const inflight = p.plant(ownerTags(owner()), new Date(T0));
    const source = new FakeSandboxSource()
      // Owns the instance by id.
      .add(sandboxView("a".repeat(64), { instanceId: live.id }))
      // Known by the sandbox id tag, instance id not recorded yet.
      .add(sandboxView(known.tags[OWNER_TAG_KEYS.sandboxId], { stage: "provisioning" }));
    source.inFlight.add(inflight.tags[OWNER_TAG_KEYS.sandboxId]);
    const c = collector(p, source, { now: () => T0 + 60 * MIN });
    assert.deepEqual(await c.runOnce(), { found: [], removed: [] });
    assert.deepEqual(p.deleted, []);
  });

  test("an instance listed while its sandbox is being stopped is left to that StopVM, not deleted as a leak", async () => {
    const p = new FakeProvider();
    const id = "d".repeat(64);
    const inst = p.plant(ownerTags(owner({ sandboxId: id })), new Date(T0));
    const source = new FakeSandboxSource().add(sandboxView(id, { instanceId: inst.id }));
    source.inFlight.add(id);
    // The sandbox's StopVM deletes the instance and forgets the sandbox while the listing is out
    // (the chaos harness saw "deleted leaked instance" for instances their StopVM had just deleted).
    const list = p.list.bind(p);
    p.list = async (o) => {
      const listed = await list(o);
      source.sandboxes.delete(id);
      source.inFlight.delete(id);
      return listed;
    };
    const pass = await collector(p, source, { now: () => T0 + 10 * MIN }).runOnce();
    assert.deepEqual(pass, { found: [], removed: [] });
    assert.deepEqual(p.deleted, []);
  });

  test("instances without our owner tags are never touched, even when the provider lists them", async () => {
    const p = new FakeProvider();
    p.flaws.listIgnoresTags = true;
    const old = new Date(T0);
    const untagged = p.plant({ Name: "someone-elses-vm" }, old);
    const otherCluster = p.plant(ownerTags(owner({ cluster: "cluster-b" })), old);
    const otherNode = p.plant(ownerTags(owner({ node: "worker-2" })), old);
    const noSandbox = p.plant({ ...ownerTags(owner()), [OWNER_TAG_KEYS.sandboxId]: "" }, old);
    const orphan = p.plant(ownerTags(owner()), old);
    const log = captureLogger();
    const c = collector(p, new FakeSandboxSource(), { now: () => T0 + 60 * MIN, logger: log.logger });
    assert.deepEqual((await c.runOnce()).removed, [orphan.id]);
    for (const kept of [untagged, otherCluster, otherNode, noSandbox]) assert.ok(p.instances.has(kept.id));
    assert.equal(log.find("without our owner tags").length, 4);
  });

  test("without a cloud creation time the grace period counts from when the instance was first seen", async () => {
    const p = new FakeProvider();
    const orphan = p.plant(ownerTags(owner()));
    let now = T0;
    const c = collector(p, new FakeSandboxSource(), { now: () => now, graceMs: 5 * MIN });
    assert.deepEqual((await c.runOnce()).removed, []);
    now = T0 + 4 * MIN;
    assert.deepEqual((await c.runOnce()).removed, []);
    now = T0 + 5 * MIN;
    assert.deepEqual((await c.runOnce()).removed, [orphan.id]);
  });

  test("dry-run finds and logs leaks but deletes nothing", async () => {
    const p = new FakeProvider();
    const orphan = p.plant(ownerTags(owner()), new Date(T0));
    const metrics = new Metrics({ defaultMetrics: false });
    const log = captureLogger();
    const c = collector(p, new FakeSandboxSource(), {
      dryRun: true,
      now: () => T0 + 10 * MIN,
      metrics,
      logger: log.logger,
    });
    const pass = await c.runOnce();
    assert.deepEqual(
      pass.found.map((i) => i.id),
      [orphan.id],
    );
    assert.deepEqual(pass.removed, []);
    assert.deepEqual(p.deleted, []);
    assert.equal(log.find(`dry run: would delete leaked instance ${orphan.id}`).length, 1);
    assert.doesNotMatch(await metrics.text(), /event="removed"/);
  });

  test("a failed delete is logged and retried on the next pass; a failed list is logged, not thrown", async () => {
    const p = new FakeProvider();
    const orphan = p.plant(ownerTags(owner()), new Date(T0));
    p.failDelete.add(orphan.id);
    const log = captureLogger();
    const c = collector(p, new FakeSandboxSource(), { now: () => T0 + 10 * MIN, logger: log.logger });
    const first = await c.runOnce();
    assert.equal(first.found.length, 1);
    assert.deepEqual(first.removed, []);
    assert.equal(log.find(`failed to delete leaked instance ${orphan.id}`).length, 1);
    assert.deepEqual((await c.runOnce()).removed, [orphan.id]);
    p.listError = new Error("DescribeInstances: RequestLimitExceeded");
    assert.deepEqual(await c.runOnce(), { found: [], removed: [] });
    assert.equal(log.find("could not list instances").length, 1);
    p.listError = undefined;
    const broken = new FakeSandboxSource();
    broken.inFlightSandboxIds = () => {
      throw new Error("store unreadable");
    };
    const c2 = collector(p, broken, { logger: log.logger });
    assert.deepEqual(await c2.runOnce(), { found: [], removed: [] });
    assert.equal(log.find("leak collector pass failed").length, 1);
  });

  test("an instance whose PeerPod is being deleted goes at once and its finalizer is cleared", async () => {
    const p = new FakeProvider();
    const young = p.plant(ownerTags(owner()), new Date(T0));
    const live = p.plant(ownerTags(owner()), new Date(T0));
    const source = new FakeSandboxSource().add(sandboxView("b".repeat(64), { instanceId: live.id }));
    const released: string[] = [];
    const peerPods = {
      deletingInstanceIds: async () => new Set([young.id, live.id]),
      releaseInstance: async (id: string) => void released.push(id),
    };
    const c = collector(p, source, { now: () => T0 + 1000, peerPods });
    assert.deepEqual((await c.runOnce()).removed, [young.id]);
    assert.deepEqual(released, [young.id]);
    assert.ok(p.instances.has(live.id), "a live sandbox's StopVM deletes its own instance");
  });

  test("start() runs a pass at once and then periodically; stop() ends it", async () => {
    const p = new FakeProvider();
    const first = p.plant(ownerTags(owner()), new Date(T0));
    const c = collector(p, new FakeSandboxSource(), { intervalMs: 50, now: () => T0 + 10 * MIN });
    c.start();
    const deadline = Date.now() + 5000;
    while (p.instances.has(first.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const second = p.plant(ownerTags(owner()), new Date(T0));
    while (p.instances.has(second.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await c.stop();
    assert.deepEqual(p.deleted, [first.id, second.id]);
    const third = p.plant(ownerTags(owner()), new Date(T0));
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(p.instances.has(third.id), "no pass after stop()");
  });
});

test("PeerPods being deleted in Kubernetes drive the collector through the PeerPod service", async () => {
  const api = new FakeKubeApi();
  await api.start();
  const dir = await mkdtemp(join(tmpdir(), "leak-k8s-"));
  try {
    const { core, custom } = kubeClients({ kubeconfig: await api.writeKubeconfig(dir) });
    const peerPods = new PeerPodService({ core, custom, cloudProvider: "memory", logger: silentLogger() });
    const p = new FakeProvider();
    const inst = p.plant(ownerTags(owner({ podName: "job" })), new Date());
    api.addPod("default", "job");
    const name = (await peerPods.own("job", "default", inst.id))!;
    const c = collector(p, new FakeSandboxSource(), { peerPods });
    assert.deepEqual((await c.runOnce()).removed, [], "young and its PeerPod alive: kept");
    // The pod was deleted while the daemon was down: the GC deletes the PeerPod, the finalizer holds it.
    api.deletePeerPod("default", name);
    assert.deepEqual((await c.runOnce()).removed, [inst.id]);
    assert.equal(api.peerPods.has(`default/${name}`), false, "finalizer cleared, PeerPod gone");
  } finally {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
});

describe("leak collector with the local provider", () => {
  let dir: string;
  let provider: LocalProvider;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "leak-local-"));
    provider = (await local.create(
      // Loopback "VMs" that only sleep: this test is about ownership, not booting.
      { LOCAL_LOOPBACK: "true", LOCAL_VM_COMMAND: '/bin/sh -c "exec sleep 300"' },
      { logger: recordingLogger(), stateDir: join(dir, "state") },
    )) as LocalProvider;
    await provider.start();
  });
  after(async () => {
    for (const inst of await provider.list({})) await provider.delete(inst.id);
    await rm(dir, { recursive: true, force: true });
  });

  test("orphaned local VMs are stopped and removed; live, in-flight and other nodes' VMs keep running", async () => {
    const req = (o: OwnerTags) => createRequest({ owner: o, spec: { instanceType: "local.small" } });
    const orphan = await provider.create(req(owner()));
    const live = await provider.create(req(owner()));
    const inflightOwner = owner();
    const inflight = await provider.create(req(inflightOwner));
    const otherNode = await provider.create(req(owner({ node: "worker-2" })));
    const source = new FakeSandboxSource().add(sandboxView("c".repeat(64), { instanceId: live.id }));
    source.inFlight.add(inflightOwner.sandboxId);
    const c = collector(provider, source, { now: () => Date.now() + 3 * MIN });
    const pass = await c.runOnce();
    assert.deepEqual(pass.removed, [orphan.id]);
    assert.equal(await provider.running(orphan.id), false);
    await assert.rejects(provider.get(orphan.id), /not found/);
    for (const kept of [live, inflight, otherNode])
      assert.equal(await provider.running(kept.id), true, kept.id);
  });
});

const noMoto = needsMoto();

describe("leak collector with the AWS provider against moto", { skip: noMoto, timeout: 240_000 }, () => {
  let moto: Moto;
  let ec2: EC2Client;
  let world: MotoWorld;
  let provider: AwsProvider;
  const cloudMetrics = new Metrics({ defaultMetrics: false });

  before(async () => {
    moto = await startMoto();
    ec2 = motoClient(moto.url);
    world = await seedWorld(ec2);
    provider = await createAwsProvider(awsEnv(moto.url, world), {
      logger: recordingLogger(),
      stateDir: "/nonexistent",
      onCloudCall: (p, op, outcome) => cloudMetrics.cloudAttempt(p, op, outcome),
    });
    await provider.start({ verify: false });
  });
  after(async () => {
    await provider?.close();
    ec2?.destroy();
    await moto?.stop();
  });

  const state = async (id: string): Promise<string | undefined> => {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  };

  test("planted orphans are terminated after the grace period; owned and untagged instances keep running", async () => {
    const orphanA = await provider.create(createRequest({ owner: owner() }));
    const orphanB = await provider.create(createRequest({ owner: owner() }));
    const live = await provider.create(createRequest({ owner: owner() }));
    const inflightOwner = owner();
    const inflight = await provider.create(createRequest({ owner: inflightOwner }));
    const otherCluster = await provider.create(createRequest({ owner: owner({ cluster: "cluster-b" }) }));
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: world.amiId,
        InstanceType: "t3.small",
        MinCount: 1,
        MaxCount: 1,
        SubnetId: world.subnetId,
        TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "Name", Value: "not-a-peer-pod" }] }],
      }),
    );
    const untagged = run.Instances![0].InstanceId!;
    const source = new FakeSandboxSource().add(sandboxView("d".repeat(64), { instanceId: live.id }));
    source.inFlight.add(inflightOwner.sandboxId);
    const metrics = new Metrics({ defaultMetrics: false });

    // Inside the grace period (moto stamps LaunchTime now): nothing is touched.
    const early = collector(provider, source, { metrics });
    assert.deepEqual(await early.runOnce(), { found: [], removed: [] });

    const dry = collector(provider, source, { dryRun: true, now: () => Date.now() + 3 * MIN });
    assert.deepEqual((await dry.runOnce()).found.map((i) => i.id).sort(), [orphanA.id, orphanB.id].sort());
    assert.equal(await state(orphanA.id), "running", "dry-run deleted nothing");

    const late = collector(provider, source, { metrics, now: () => Date.now() + 3 * MIN });
    const pass = await late.runOnce();
    assert.deepEqual(pass.removed.sort(), [orphanA.id, orphanB.id].sort());
    for (const id of [orphanA.id, orphanB.id])
      assert.match((await state(id)) ?? "", /^(shutting-down|terminated)$/);
    for (const id of [live.id, inflight.id, otherCluster.id, untagged])
      assert.equal(await state(id), "running", id);
    assert.match(await metrics.text(), /caa_leaked_instances_total\{event="removed",provider="aws"\} 2/);
    const calls = await cloudMetrics.text();
    assert.match(
      calls,
      /caa_cloud_api_calls_total\{provider="aws",operation="DescribeInstances",outcome="ok"\} \d+/,
    );
    assert.match(
      calls,
      /caa_cloud_api_calls_total\{provider="aws",operation="TerminateInstances",outcome="ok"\} 2/,
    );
    // Terminated instances are no longer listed: the next pass finds nothing.
    assert.deepEqual(await late.runOnce(), { found: [], removed: [] });
  });
});
