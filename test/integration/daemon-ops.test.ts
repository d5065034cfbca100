// Operating the daemon: its ops endpoint after a real lifecycle (metrics move, the admin API shows
// stages and timings, nothing secret in any response), and its Kubernetes side against a fake API
// server (node capacity advertised and removed, a PeerPod per VM, an Event naming the failed stage).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";

const NODE = "worker-1";
const POD = { "io.kubernetes.cri.sandbox-name": "shop", "io.kubernetes.cri.sandbox-namespace": "prod" };

interface AdminSandbox {
  id: string;
  stage: string;
  instanceId?: string;
  timings: Record<string, number>;
  lastError?: { stage: string; message: string };
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("caa serve in Kubernetes with its ops endpoint", () => {
  let api: FakeKubeApi;
  let dir: string;
  let daemon: DaemonProcess;
  let ops: string;
  const responses: string[] = [];

  before(async () => {
    api = new FakeKubeApi();
    await api.start();
    api.addNode(NODE);
    api.addPod("prod", "shop", { nodeName: NODE, runtimeClassName: "kata-remote" });
    dir = await makeDaemonDir();
    const port = await freePort();
    ops = `http://127.0.0.1:${port}`;
    daemon = await startDaemon(
      dir,
      daemonEnv(dir, {
        PROBE_PORT: String(port),
        NODE_NAME: NODE,
        POD_UID: "caa-pod-uid-1",
        KUBECONFIG: await api.writeKubeconfig(dir),
        PEERPODS_LIMIT_PER_NODE: "7",
        AWS_SECRET_ACCESS_KEY: "must-never-appear-anywhere",
      }),
    );
  });

  after(async () => {
    await daemon?.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: daemon?.bridge ?? "" });
    await api?.close();
  });

  test("node capacity kata.peerpods.io/vm is advertised with this daemon as owner", () => {
    const node = api.nodes.get(NODE)!;
    assert.equal(node.status.capacity["kata.peerpods.io/vm"], "7");
    assert.equal(node.metadata.annotations["kata.peerpods.io/caa-owner"], "caa-pod-uid-1");
  });

  test("a lifecycle moves the metrics, shows in the admin API, and owns then releases a PeerPod", async () => {
    const id = randomBytes(32).toString("hex");
    await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create", "start"] });

    const one = await get(`${ops}/v1/sandboxes/${id}`);
    responses.push(one.text);
    assert.equal(one.status, 200);
    const view = JSON.parse(one.text) as AdminSandbox;
    assert.equal(view.stage, "running");
    assert.ok(view.instanceId);
    for (const stage of ["created", "provisioning", "booting", "agent-connect"]) {
      assert.equal(typeof view.timings[stage], "number", `timing of ${stage}`);
    }
    const list = await get(`${ops}/v1/sandboxes`);
    responses.push(list.text);
    assert.ok((JSON.parse(list.text) as { sandboxes: AdminSandbox[] }).sandboxes.some((s) => s.id === id));

    const peerPods = [...api.peerPods.values()].filter((p) => p.spec.instanceID === view.instanceId);
    assert.equal(peerPods.length, 1, "one PeerPod for the VM");
    assert.deepEqual(peerPods[0].metadata.finalizers, ["peer.pod/finalizer"]);
    assert.equal(peerPods[0].metadata.ownerReferences?.[0]?.kind, "Pod");

    await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    const released = [...api.peerPods.values()].filter((p) => p.spec.instanceID === view.instanceId);
    assert.ok(
      released.every((p) => (p.metadata.finalizers ?? []).length === 0),
      "finalizer removed",
    );

    const metrics = await get(`${ops}/metrics`);
    responses.push(metrics.text);
    assert.ok(
      metricValue(metrics.text, "caa_sandbox_lifecycle_duration_seconds_count", 'operation="start"') >= 1,
    );
    assert.ok(
      metricValue(metrics.text, "caa_sandbox_stage_duration_seconds_count", 'stage="provisioning"') >= 1,
    );
    assert.ok(
      metricValue(metrics.text, "caa_sandbox_lifecycle_duration_seconds_count", 'operation="stop"') >= 1,
    );
    assert.match(metrics.text, /process_cpu_seconds_total/);
    assert.equal((await get(`${ops}/v1/sandboxes/${id}`)).status, 404);
  });

  test("probes answer", async () => {
    for (const path of ["/healthz", "/readyz", "/startup"]) {
      const r = await get(`${ops}${path}`);
      responses.push(r.text);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    }
  });

  test("no response carries key material or credentials", () => {
    assert.ok(responses.length >= 5);
    for (const text of responses) {
      assert.ok(!text.includes("PRIVATE KEY"), "no private key");
      assert.ok(!text.includes("must-never-appear-anywhere"), "no credentials");
      assert.ok(!text.includes("#cloud-config"), "no user-data");
    }
    assert.ok(!daemon.logs().includes("must-never-appear-anywhere"));
    assert.ok(!daemon.logs().includes("PRIVATE KEY"));
  });
});

test("a StartVM that fails at agent-connect emits a pod Event naming the stage", async () => {
  const api = new FakeKubeApi();
  await api.start();
  api.addNode(NODE);
  api.addPod("prod", "shop", { nodeName: NODE, runtimeClassName: "kata-remote" });
  const dir = await makeDaemonDir();
  // A VM that boots but never runs a forwarder: nothing answers on :15150. The `--` keeps the
  // boot flags the provider appends (--cidata …) from being read as node's own options, which
  // would make the "VM" exit at once.
  const env = daemonEnv(dir, {
    NODE_NAME: NODE,
    KUBECONFIG: await api.writeKubeconfig(dir),
    PROXY_TIMEOUT: "2s",
    LOCAL_VM_COMMAND: `${process.execPath} -e setInterval(()=>{},1e6) --`,
  });
  const daemon = await startDaemon(dir, env);
  try {
    const id = randomBytes(32).toString("hex");
    const steps = await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create", "start"] });
    assert.equal(steps[1].code, 2);
    assert.match(steps[1].message, /^agent-connect: no answer from [0-9.]+:15150 after 2s/);
    // Events are posted after the reply, off the StartVM path.
    for (let i = 0; i < 100 && !api.events.some((e) => e.reason === "PeerPodStartFailed"); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const event = api.events.find((e) => e.reason === "PeerPodStartFailed");
    assert.ok(event, "an Event was emitted");
    assert.equal(event.type, "Warning");
    assert.match(event.message, /stage agent-connect/);
    assert.equal((event.involvedObject as { name?: string }).name, "shop");
    // Nothing was left: the failed StartVM deleted its VM.
    const stop = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop[0].code, 0);
  } finally {
    await daemon.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
    await api.close();
  }
});

test("on shutdown the node capacity is removed only while this daemon owns it", async () => {
  const api = new FakeKubeApi();
  await api.start();
  api.addNode(NODE);
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, {
    NODE_NAME: NODE,
    POD_UID: "old-daemon",
    KUBECONFIG: await api.writeKubeconfig(dir),
  });
  try {
    let daemon = await startDaemon(dir, env);
    // A rolling update: the new daemon takes the node over before the old one exits.
    api.nodes.get(NODE)!.metadata.annotations["kata.peerpods.io/caa-owner"] = "new-daemon";
    await daemon.kill("SIGTERM");
    assert.equal(api.nodes.get(NODE)!.status.capacity["kata.peerpods.io/vm"], "10", "left for the new owner");

    daemon = await startDaemon(dir, env);
    await daemon.kill("SIGTERM");
    assert.equal(api.nodes.get(NODE)!.status.capacity["kata.peerpods.io/vm"], undefined, daemon.logs());
  } finally {
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
    await api.close();
  }
});
