// Cluster-scope leak collection with two collector replicas against the fake Kubernetes API: only
// the Lease holder deletes; a deleted node's instances go once the grace period has passed; a live
// node's never do; the Lease follows client-go's semantics (create, renew, take over on expiry).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { kubeClients, type KubeClients } from "../../src/k8s/client.ts";
import { KubeEvents } from "../../src/k8s/events.ts";
import { LeaseElector } from "../../src/k8s/lease.ts";
import { KubeClusterNodes } from "../../src/k8s/nodes.ts";
import {
  COLLECTED_REASON,
  COLLECT_FAILED_REASON,
  ClusterLeakCollector,
  WOULD_COLLECT_REASON,
} from "../../src/leak/cluster-collector.ts";
import { Metrics } from "../../src/ops/metrics.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";
import { FakeProvider, ownerTags } from "../helpers/fake-provider.ts";

const NS = "confidential-containers-system";
const LEASE = "peerpods-leak-collector";
const GRACE = 120_000;
const LEASE_SECONDS = 15;

let api: FakeKubeApi;
let dir: string;
let clients: KubeClients;

before(async () => {
  api = new FakeKubeApi();
  await api.start();
  dir = await mkdtemp(join(tmpdir(), "cluster-leak-"));
  clients = kubeClients({ kubeconfig: await api.writeKubeconfig(dir) });
});
after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function plant(provider: FakeProvider, node: string, sandbox: string, cluster = "c1") {
  return provider.plant(
    ownerTags({
      cluster,
      node,
      sandboxId: sandbox.padEnd(64, "0"),
      podName: `pod-${sandbox}`,
      podNamespace: "shop",
    }),
    new Date(0),
  );
}

function replica(identity: string, provider: FakeProvider, clock: { t: number }, dryRun = false) {
  const log = captureLogger();
  const metrics = new Metrics();
  const now = () => clock.t;
  const leadership = new LeaseElector({
    coordination: clients.coordination,
    namespace: NS,
    name: LEASE,
    identity,
    leaseDurationSeconds: LEASE_SECONDS,
    logger: log.logger,
    now,
  });
  const collector = new ClusterLeakCollector({
    provider,
    cluster: "c1",
    leadership,
    nodes: new KubeClusterNodes(clients.core),
    graceMs: GRACE,
    intervalMs: 60_000,
    renewMs: 5_000,
    dryRun,
    logger: log.logger,
    metrics,
    events: new KubeEvents({ core: clients.core, nodeName: identity, logger: log.logger }),
    now,
  });
  return { collector, leadership, log, metrics };
}

/** The Events recorded on a node, as `kubectl describe node` lists them: reason, reporter, message. */
function nodeEvents(node: string): Array<{ reason: string; type: string; host: unknown; message: string }> {
  return api.events
    .filter((e) => e.involvedObject.kind === "Node" && e.involvedObject.name === node)
    .map((e) => {
      assert.equal(e.metadata.namespace, "default");
      return { reason: e.reason, type: e.type, host: e.source.host, message: e.message };
    });
}

describe("cluster-scope leak collector", () => {
  beforeEach(() => {
    api.nodes.clear();
    api.leases.clear();
    api.events.length = 0;
  });

  test("two replicas: only the lease holder deletes, a deleted node's VMs go after the grace period", async () => {
    const clock = { t: 1_000_000 };
    const provider = new FakeProvider();
    for (const n of ["n1", "n2"]) api.addNode(n);
    const live = plant(provider, "n1", "a");
    const doomed = [plant(provider, "n2", "b"), plant(provider, "n2", "c")];
    const alreadyGone = plant(provider, "n3", "d");
    const otherCluster = plant(provider, "n3", "e", "c2");
    const a = replica("n1_uid-a", provider, clock);
    const b = replica("n2_uid-b", provider, clock);

    const first = await a.collector.runOnce();
    const second = await b.collector.runOnce();
    assert.equal(first.leader, true);
    assert.equal(second.leader, false);
    assert.equal(api.leases.get(`${NS}/${LEASE}`)?.spec.holderIdentity, "n1_uid-a");
    // n3 is gone but only just noticed: nothing yet.
    assert.deepEqual(first.removed, []);

    api.nodes.delete("n2");
    clock.t += 60_000;
    assert.deepEqual((await a.collector.runOnce()).removed, []);
    assert.equal((await b.collector.runOnce()).leader, false);

    clock.t += GRACE - 60_000;
    // n3 was first seen missing GRACE ago; n2 only 60 s ago.
    const third = await a.collector.runOnce();
    assert.deepEqual(third.removed, [alreadyGone.id]);
    assert.deepEqual((await b.collector.runOnce()).removed, []);

    clock.t += 60_000;
    const fourth = await a.collector.runOnce();
    assert.deepEqual(fourth.removed.sort(), doomed.map((i) => i.id).sort());
    assert.equal((await b.collector.runOnce()).leader, false);

    // The live node's instance and the other cluster's are never touched, however long it runs.
    clock.t += 10 * GRACE;
    await a.collector.runOnce();
    await b.collector.runOnce();
    assert.ok(provider.instances.has(live.id));
    assert.ok(provider.instances.has(otherCluster.id));
    assert.deepEqual(provider.deleted.sort(), [alreadyGone.id, ...doomed.map((i) => i.id)].sort());
    assert.match(await a.metrics.text(), /caa_leaked_instances_total\{event="removed",provider="memory"\} 3/);
    assert.doesNotMatch(await b.metrics.text(), /caa_leaked_instances_total\{event="removed"/);
    assert.equal(a.log.find(`deleted instance ${alreadyGone.id} of deleted node n3`).length, 1);
    assert.equal(a.log.find(`deleted instance ${alreadyGone.id} of deleted node n3`)[0].reason, "node-gone");
    // Each deletion is an Event on the deleted node, recorded by the lease holder only.
    assert.deepEqual(nodeEvents("n3"), [
      {
        reason: COLLECTED_REASON,
        type: "Warning",
        host: "n1_uid-a",
        message: `deleted instance ${alreadyGone.id} (pod shop/pod-d): its node was gone for longer than the grace period`,
      },
    ]);
    assert.deepEqual(
      nodeEvents("n2").map((e) => [e.reason, e.host]),
      [
        [COLLECTED_REASON, "n1_uid-a"],
        [COLLECTED_REASON, "n1_uid-a"],
      ],
    );
    assert.deepEqual(nodeEvents("n1"), []);
  });

  test("a delete the cloud refuses is an Event on the node and is retried on the next pass", async () => {
    const clock = { t: 30_000_000 };
    const provider = new FakeProvider();
    const orphan = plant(provider, "n9", "g");
    const r = replica("solo", provider, clock);
    await r.collector.runOnce();
    clock.t += GRACE;
    provider.failDelete.add(orphan.id);
    assert.deepEqual((await r.collector.runOnce()).removed, []);
    assert.deepEqual(nodeEvents("n9"), [
      {
        reason: COLLECT_FAILED_REASON,
        type: "Warning",
        host: "solo",
        message: `could not delete instance ${orphan.id} (pod shop/pod-g) of this deleted node (Injected); retried next pass`,
      },
    ]);
    assert.deepEqual((await r.collector.runOnce()).removed, [orphan.id]);
    assert.deepEqual(
      nodeEvents("n9").map((e) => e.reason),
      [COLLECT_FAILED_REASON, COLLECTED_REASON],
    );
  });

  test("when the holder stops renewing, the other replica takes over after the lease duration", async () => {
    const clock = { t: 5_000_000 };
    const provider = new FakeProvider();
    api.addNode("n1");
    const a = replica("n1_uid-a", provider, clock);
    const b = replica("n1_uid-b", provider, clock);
    assert.equal(await a.leadership.tryAcquireOrRenew(), true);
    assert.equal(await b.leadership.tryAcquireOrRenew(), false);
    // a renews: same holder, transitions unchanged, b still waits.
    clock.t += 5_000;
    assert.equal(await a.leadership.tryAcquireOrRenew(), true);
    assert.equal(await b.leadership.tryAcquireOrRenew(), false);
    // a goes silent; b takes over LEASE_SECONDS after it last saw the record change.
    clock.t += LEASE_SECONDS * 1000 - 1;
    assert.equal(await b.leadership.tryAcquireOrRenew(), false);
    clock.t += 1;
    assert.equal(await b.leadership.tryAcquireOrRenew(), true);
    const spec = api.leases.get(`${NS}/${LEASE}`)?.spec;
    assert.equal(spec?.holderIdentity, "n1_uid-b");
    assert.equal(spec?.leaseTransitions, 1);
    // a's deadline has passed: it no longer acts, and its next renew finds b holding.
    assert.equal(a.leadership.isLeader(), false);
    assert.equal(await a.leadership.tryAcquireOrRenew(), false);
  });

  test("racing candidates: the stale update gets 409 and loses", async () => {
    const clock = { t: 9_000_000 };
    const provider = new FakeProvider();
    const a = replica("a", provider, clock);
    const b = replica("b", provider, clock);
    await a.leadership.release();
    assert.equal(await a.leadership.tryAcquireOrRenew(), true);
    await a.leadership.release();
    assert.equal(api.leases.get(`${NS}/${LEASE}`)?.spec.holderIdentity, "");
    // Both read the released lease; b's update lands between a's read and a's write.
    api.onRequest = (r) => {
      if (r.method === "PUT" && r.path.endsWith(`/leases/${LEASE}`)) {
        api.onRequest = undefined;
        const lease = api.leases.get(`${NS}/${LEASE}`)!;
        lease.spec = { ...lease.spec, holderIdentity: "b" };
        lease.metadata.resourceVersion = String(Number(lease.metadata.resourceVersion) + 1000);
      }
    };
    assert.equal(await a.leadership.tryAcquireOrRenew(), false);
    assert.equal(api.leases.get(`${NS}/${LEASE}`)?.spec.holderIdentity, "b");
    assert.equal(await b.leadership.tryAcquireOrRenew(), true);
  });

  test("a failing node list deletes nothing; dry-run only logs", async () => {
    const clock = { t: 20_000_000 };
    const provider = new FakeProvider();
    const orphan = plant(provider, "gone-node", "f");
    const dry = replica("dry", provider, clock, true);
    assert.deepEqual((await dry.collector.runOnce()).found, []);
    clock.t += GRACE;
    const pass = await dry.collector.runOnce();
    assert.deepEqual(
      pass.found.map((i) => i.id),
      [orphan.id],
    );
    assert.deepEqual(pass.removed, []);
    assert.equal(
      dry.log.find(`dry run: would delete instance ${orphan.id} of deleted node gone-node`).length,
      1,
    );
    assert.deepEqual(
      nodeEvents("gone-node").map((e) => [e.reason, e.type, e.message]),
      [
        [
          WOULD_COLLECT_REASON,
          "Normal",
          `dry run (LEAK_DRY_RUN): would delete instance ${orphan.id} (pod shop/pod-f) of this deleted node`,
        ],
      ],
    );

    const real = replica("dry", provider, clock);
    await real.collector.runOnce();
    clock.t += GRACE;
    api.failNext("GET", /^\/api\/v1\/nodes$/, 500);
    const failed = await real.collector.runOnce();
    assert.equal(failed.leader, true);
    assert.deepEqual(failed.removed, []);
    assert.equal(real.log.find("could not list nodes; deleting nothing").length, 1);
    assert.ok(provider.instances.has(orphan.id));
    assert.deepEqual((await real.collector.runOnce()).removed, [orphan.id]);
  });
});
