import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeClients, type KubeClients } from "../../src/k8s/client.ts";
import { kubeIntegration } from "../../src/k8s/integration.ts";
import { NodeCapacity, OWNER_ANNOTATION, VM_RESOURCE } from "../../src/k8s/node-capacity.ts";
import { KubeNodePods } from "../../src/k8s/node-pods.ts";
import { PEERPOD_FINALIZER } from "../../src/k8s/peerpod.ts";
import { PeerPodService } from "../../src/k8s/peerpod-service.ts";
import { KubeEvents } from "../../src/k8s/events.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { StartupCheck } from "../../src/ops/startup.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";

const NODE = "worker-0";
let api: FakeKubeApi;
let dir: string;
let clients: KubeClients;

before(async () => {
  api = new FakeKubeApi();
  await api.start();
  dir = await mkdtemp(join(tmpdir(), "k8s-test-"));
  clients = kubeClients({ kubeconfig: await api.writeKubeconfig(dir) });
});
after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function capacity(podUid: string | undefined, limit = 10, logger = silentLogger()): NodeCapacity {
  return new NodeCapacity({ core: clients.core, nodeName: NODE, podUid, limit, logger });
}

function vmCapacity(): unknown {
  return api.nodes.get(NODE)?.status.capacity[VM_RESOURCE];
}

describe("node capacity", () => {
  test("advertises kata.peerpods.io/vm with upstream's JSON patch and records the owner", async () => {
    api.addNode(NODE);
    api.requests.length = 0;
    assert.equal(await capacity("uid-a").advertise(), true);
    assert.equal(vmCapacity(), "10");
    assert.equal(api.nodes.get(NODE)?.metadata.annotations[OWNER_ANNOTATION], "uid-a");
    const statusPatch = api.requests.find((r) => r.path === `/api/v1/nodes/${NODE}/status`);
    assert.equal(statusPatch?.method, "PATCH");
    assert.equal(statusPatch?.contentType, "application/json-patch+json");
    assert.deepEqual(statusPatch?.body, [
      { op: "add", path: "/status/capacity/kata.peerpods.io~1vm", value: "10" },
    ]);
    const ownerPatch = api.requests.find((r) => r.path === `/api/v1/nodes/${NODE}`);
    assert.equal(ownerPatch?.contentType, "application/merge-patch+json");
    assert.ok(api.requests.every((r) => r.authorization === "Bearer fake-kube-token"));
  });

  test("during a rolling update the old daemon leaves the new daemon's capacity in place", async () => {
    api.addNode(NODE);
    const old = capacity("uid-old");
    const next = capacity("uid-new", 12);
    assert.equal(await old.advertise(), true);
    assert.equal(await next.advertise(), true);
    assert.equal(await old.remove(), "not-owner");
    assert.equal(vmCapacity(), "12");
    assert.equal(await next.remove(), "removed");
    assert.equal(vmCapacity(), undefined);
    assert.equal(api.nodes.get(NODE)?.status.capacity.cpu, "4");
  });

  test("a takeover between the owner check and the removal is caught by the patch's test op", async () => {
    api.addNode(NODE);
    const old = capacity("uid-old");
    await old.advertise();
    api.onRequest = (r) => {
      // The new daemon writes its ownership after the old one read the node, before its patch lands.
      if (r.method === "PATCH" && r.path.endsWith("/status"))
        api.nodes.get(NODE)!.metadata.annotations[OWNER_ANNOTATION] = "uid-new";
    };
    try {
      assert.equal(await old.remove(), "failed");
      assert.equal(vmCapacity(), "10");
    } finally {
      api.onRequest = undefined;
    }
  });

  test("without POD_UID the capacity is removed unconditionally, like upstream before owner tracking", async () => {
    api.addNode(NODE, { [OWNER_ANNOTATION]: "someone-else" });
    const c = capacity(undefined, 5);
    assert.equal(await c.advertise(), true);
    assert.equal(vmCapacity(), "5");
    assert.equal(await c.remove(), "removed");
    assert.equal(vmCapacity(), undefined);
  });

  test("API failures are logged and reported, never thrown", async () => {
    api.addNode(NODE);
    const log = captureLogger();
    api.failNext("PATCH", /\/status$/, 500);
    assert.equal(await capacity("uid-a", 10, log.logger).advertise(), false);
    const [line] = log.find("failed to advertise peer-pod capacity");
    assert.deepEqual(line.api, { status: 500, reason: "InternalError", message: "injected failure" });
    assert.equal(line.node, NODE);
    // The owner annotation was written before the failed status patch: nothing to remove.
    assert.equal(await capacity("uid-a", 10, log.logger).remove(), "removed");
    assert.equal(log.find("no peer-pod capacity to remove").length, 1);
    api.nodes.delete(NODE);
    assert.equal(await capacity("uid-a", 10, log.logger).remove(), "failed");
    assert.equal(log.find("failed to remove peer-pod capacity").length, 1);
  });
});

describe("PeerPod objects", () => {
  let service: PeerPodService;
  before(() => {
    service = new PeerPodService({
      core: clients.core,
      custom: clients.custom,
      cloudProvider: "aws",
      logger: silentLogger(),
    });
  });

  test("own() creates a PeerPod owned by the Pod with upstream's finalizer; release() clears it", async () => {
    const pod = api.addPod("team-a", "web", { nodeName: NODE, runtimeClassName: "kata-remote" });
    const name = await service.own("web", "team-a", "i-0aaa");
    assert.match(name ?? "", /^web-resource-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const pp = api.peerPods.get(`team-a/${name}`)!;
    assert.equal(pp.apiVersion, "confidentialcontainers.org/v1alpha1");
    assert.equal(pp.kind, "PeerPod");
    assert.deepEqual(pp.metadata.finalizers, [PEERPOD_FINALIZER]);
    assert.deepEqual(pp.metadata.ownerReferences, [
      {
        apiVersion: "v1",
        kind: "Pod",
        name: "web",
        uid: pod.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.deepEqual(pp.spec, { cloudProvider: "aws", instanceID: "i-0aaa" });

    assert.equal(await service.release("web", "team-a", "i-0aaa"), 1);
    const patch = api.requests.findLast((r) => r.method === "PATCH");
    assert.deepEqual(patch?.body, [{ op: "remove", path: "/metadata/finalizers" }]);
    assert.equal(patch?.contentType, "application/json-patch+json");
    assert.equal(api.peerPods.get(`team-a/${name}`)?.metadata.finalizers, undefined);
    // With the finalizer gone the garbage collector's delete removes it at once.
    api.deletePeerPod("team-a", name!);
    assert.equal(api.peerPods.has(`team-a/${name}`), false);
  });

  test("a PeerPod deleted before CAA released it stays, is reported as deleting, and goes once released", async () => {
    api.addPod("team-b", "job", { nodeName: NODE });
    const name = (await service.own("job", "team-b", "i-0bbb"))!;
    const other = new PeerPodService({
      core: clients.core,
      custom: clients.custom,
      cloudProvider: "azure",
      logger: silentLogger(),
    });
    await other.own(
      "job",
      "team-b",
      "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v",
    );
    assert.deepEqual(await service.deletingInstanceIds(), new Set());
    api.deletePeerPod("team-b", name);
    assert.ok(api.peerPods.get(`team-b/${name}`)?.metadata.deletionTimestamp);
    assert.deepEqual(await service.deletingInstanceIds(), new Set(["i-0bbb"]));
    await service.releaseInstance("i-0bbb");
    assert.equal(api.peerPods.has(`team-b/${name}`), false);
    assert.deepEqual(await service.deletingInstanceIds(), new Set());
  });

  test("own() for a pod that does not exist logs the API error and returns undefined", async () => {
    const log = captureLogger();
    const s = new PeerPodService({
      core: clients.core,
      custom: clients.custom,
      cloudProvider: "aws",
      logger: log.logger,
    });
    assert.equal(await s.own("ghost", "team-a", "i-0ccc"), undefined);
    const [line] = log.find("failed to create the PeerPod object");
    assert.equal((line.api as { status: number }).status, 404);
    assert.equal(line.pod, "ghost");
    assert.equal(await s.release("ghost", "nowhere", "i-0ccc"), 0);
    api.failNext("GET", /peerpods$/, 503);
    assert.equal(await s.release("ghost", "team-a", "i-0ccc"), undefined);
  });
});

describe("pod events", () => {
  test("a failed StartVM records a Warning event on the pod naming the stage and the cloud's error code", async () => {
    const pod = api.addPod("team-c", "api", { nodeName: NODE });
    const events = new KubeEvents({
      core: clients.core,
      nodeName: NODE,
      logger: silentLogger(),
      now: () => new Date("2026-05-01T10:00:00Z"),
    });
    const ok = await events.startFailed("api", "team-c", {
      stage: "provisioning",
      code: "InsufficientInstanceCapacity",
      message: "AWS has no m6a.large capacity in us-east-1a",
    });
    assert.equal(ok, true);
    const ev = api.events.at(-1)!;
    assert.equal(ev.metadata.namespace, "team-c");
    assert.match(ev.metadata.name, /^api\.[0-9a-f]+$/);
    assert.deepEqual(ev.involvedObject, {
      apiVersion: "v1",
      kind: "Pod",
      name: "api",
      namespace: "team-c",
      uid: pod.metadata.uid,
    });
    assert.equal(ev.type, "Warning");
    assert.equal(ev.reason, "PeerPodStartFailed");
    assert.equal(
      ev.message,
      "StartVM failed at stage provisioning (InsufficientInstanceCapacity): AWS has no m6a.large capacity in us-east-1a",
    );
    assert.deepEqual(ev.source, { component: "cloud-api-adaptor", host: NODE });
    assert.equal(ev.firstTimestamp, "2026-05-01T10:00:00.000Z");
  });

  test("events for the agent-connect stage work without reading the pod, and failures are only logged", async () => {
    const log = captureLogger();
    const events = new KubeEvents({ core: clients.core, nodeName: NODE, logger: log.logger });
    assert.equal(
      await events.startFailed("gone", "team-c", {
        stage: "agent-connect",
        message: "no answer from 192.0.2.7:15150",
      }),
      true,
    );
    const ev = api.events.at(-1)!;
    assert.equal(ev.involvedObject.uid, undefined);
    assert.equal(ev.message, "StartVM failed at stage agent-connect: no answer from 192.0.2.7:15150");
    api.failNext("POST", /events$/, 500);
    assert.equal(await events.emit("gone", "team-c", { reason: "X", message: "y", type: "Normal" }), false);
    assert.equal(log.find("failed to record pod event").length, 1);
  });
});

test("the startup probe lists this node's pods through the API with upstream's field selector", async () => {
  const startedAt = new Date();
  const peer = api.addPod("team-d", "peer", {
    nodeName: NODE,
    runtimeClassName: "kata-remote",
    ready: { status: "True", lastTransitionTime: new Date(startedAt.getTime() - 60_000).toISOString() },
  });
  api.addPod("team-d", "elsewhere", {
    nodeName: "worker-1",
    runtimeClassName: "kata-remote",
    ready: { status: "False", lastTransitionTime: startedAt.toISOString() },
  });
  const socketPath = join(dir, "hv.sock");
  const hv = createServer((c) => c.end());
  await new Promise<void>((resolve) => hv.listen(socketPath, resolve));
  try {
    const check = new StartupCheck({ socketPath, pods: new KubeNodePods(clients.core, NODE), startedAt });
    assert.deepEqual(await check.check(), {
      ok: false,
      reason: "peer pod team-d/peer has not been restarted since this daemon started",
    });
    assert.equal(api.requests.at(-1)?.query.get("fieldSelector"), `spec.nodeName=${NODE}`);
    peer.status.conditions[0].lastTransitionTime = new Date(startedAt.getTime() + 1000).toISOString();
    // Ready after our start; the not-Ready pod on another node is not ours to wait for.
    assert.deepEqual(await check.check(), { ok: true, reason: "ready" });
  } finally {
    await new Promise<void>((resolve) => hv.close(() => resolve()));
  }
});

test("kubeIntegration is off without NODE_NAME and wires every piece with it", async () => {
  assert.equal(
    kubeIntegration({ nodeName: "", peerpodsLimitPerNode: 10, cloudProvider: "aws", logger: silentLogger() }),
    undefined,
  );
  const k = kubeIntegration({
    nodeName: NODE,
    podUid: "uid-z",
    kubeconfig: join(dir, "kubeconfig"),
    peerpodsLimitPerNode: 3,
    cloudProvider: "aws",
    logger: silentLogger(),
  });
  assert.ok(k);
  api.addNode(NODE);
  assert.equal(await k.capacity.advertise(), true);
  assert.equal(vmCapacity(), "3");
  assert.equal(await k.capacity.remove(), "removed");
});
