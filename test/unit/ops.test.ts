import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildOpsApp } from "../../src/ops/server.ts";
import { Metrics } from "../../src/ops/metrics.ts";
import { StartupCheck, type NodePod } from "../../src/ops/startup.ts";
import { FakeSandboxSource, sandboxView } from "../helpers/sandbox-source.ts";

const ID_A = "a".repeat(64);
const ID_B = "b".repeat(64);
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
const SECRETS = [
  "PRIVATE KEY",
  "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "s3cr3t-client-value",
];

let dir: string;
let socketPath: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ops-test-"));
  socketPath = join(dir, "hypervisor.sock");
});
after(() => rm(dir, { recursive: true, force: true }));

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((c) => c.end());
    srv.once("error", reject);
    srv.listen(path, () => resolve(srv));
  });
}

function closeServer(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** Sandboxes as the manager holds them: with key material in fields the API must never serve. */
function sourceWithSecrets(): FakeSandboxSource {
  const src = new FakeSandboxSource();
  const running = {
    ...sandboxView(ID_A, {
      podName: "web",
      stage: "running",
      instanceId: "i-0123456789abcdef0",
      instanceName: `podvm-web-${ID_A.slice(0, 8)}`,
      instanceType: "m6a.large",
      ips: ["192.0.2.10"],
      vni: 555001,
      timings: { validating: 3, provisioning: 4100, booting: 21000, "agent-connect": 900 },
    }),
    tlsServerKey: PEM,
    userData: `#cloud-config\nwrite_files:\n- content: ${PEM}`,
    credentials: {
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      clientSecret: "s3cr3t-client-value",
    },
  };
  const failed = sandboxView(ID_B, {
    podName: "db",
    stage: "failed",
    timings: { validating: 2, provisioning: 800 },
    lastError: {
      stage: "provisioning",
      code: "InsufficientInstanceCapacity",
      message: `StartVM ${ID_B.slice(0, 8)}: provisioning: no capacity; cert was ${PEM}`,
    },
  });
  return src.add(running).add(failed);
}

describe("admin API", () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildOpsApp({
      source: sourceWithSecrets(),
      metrics: new Metrics({ defaultMetrics: false }),
      startup: new StartupCheck({ socketPath: join(dir, "none.sock") }),
    });
  });
  after(() => app.close());

  test("GET /v1/sandboxes lists each sandbox with its stage, timings, instance and IPs", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/sandboxes" });
    assert.equal(res.statusCode, 200);
    const body = res.json<{ sandboxes: Record<string, unknown>[] }>();
    assert.equal(body.sandboxes.length, 2);
    const a = body.sandboxes.find((s) => s.id === ID_A);
    assert.deepEqual(a, {
      id: ID_A,
      podName: "web",
      podNamespace: "default",
      stage: "running",
      createdAt: "2026-01-02T03:04:05.000Z",
      instanceId: "i-0123456789abcdef0",
      instanceName: `podvm-web-${ID_A.slice(0, 8)}`,
      instanceType: "m6a.large",
      ips: ["192.0.2.10"],
      vni: 555001,
      timings: { validating: 3, provisioning: 4100, booting: 21000, "agent-connect": 900 },
    });
  });

  test("GET /v1/sandboxes/:id shows the failing stage and the cloud's error code", async () => {
    const res = await app.inject({ method: "GET", url: `/v1/sandboxes/${ID_B}` });
    assert.equal(res.statusCode, 200);
    const b = res.json<{ stage: string; lastError: { stage: string; code: string; message: string } }>();
    assert.equal(b.stage, "failed");
    assert.equal(b.lastError.stage, "provisioning");
    assert.equal(b.lastError.code, "InsufficientInstanceCapacity");
    assert.match(b.lastError.message, /provisioning: no capacity; cert was \[redacted PEM block\]/);
  });

  test("GET /v1/sandboxes/:id of an unknown sandbox is a 404 JSON error", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/sandboxes/nope" });
    assert.equal(res.statusCode, 404);
    assert.match(res.headers["content-type"] as string, /application\/json/);
    assert.deepEqual(res.json(), { error: "NotFound", message: "no sandbox nope" });
  });
});

describe("metrics", () => {
  test("/metrics after a lifecycle shows counters and histograms moving", async () => {
    const metrics = new Metrics();
    const app = await buildOpsApp({
      source: sourceWithSecrets(),
      metrics,
      startup: new StartupCheck({ socketPath: join(dir, "none.sock") }),
    });
    const scrape = async () => (await app.inject({ method: "GET", url: "/metrics" })).body;
    const before = await scrape();
    assert.match(before, /^# TYPE caa_cloud_api_calls_total counter$/m);
    assert.doesNotMatch(before, /caa_cloud_api_calls_total\{/);

    metrics.observeLifecycle("create", 12, true);
    metrics.observeStage("provisioning", 4100);
    metrics.observeStage("booting", 21_000);
    metrics.observeLifecycle("start", 26_000, true);
    metrics.cloudCall("aws", "RunInstances", "ok", 350);
    metrics.cloudCall("aws", "RunInstances", "throttled");
    metrics.cloudCall("aws", "TerminateInstances", "error", 120, "UnauthorizedOperation");
    metrics.cloudAttempt("aws", "DescribeInstances", "RequestLimitExceeded");
    metrics.cloudAttempt("aws", "DescribeInstances", "ok");
    metrics.cloudAttempt("azure", "virtualMachines.createOrUpdate", "AllocationFailed");
    metrics.agentCall("grpc.AgentService/CreateContainer", 40, true, 1200, 64);
    metrics.agentCall("grpc.AgentService/CreateContainer", 30, false, 800, 0);
    metrics.agentCall("bad method\nname", 1, true, 1, 1);
    metrics.leak("found", "aws");
    metrics.leak("removed", "aws");

    const res = await app.inject({ method: "GET", url: "/metrics" });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers["content-type"] as string, /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const expect = [
      'caa_sandboxes{stage="running"} 1',
      'caa_sandboxes{stage="failed"} 1',
      'caa_sandboxes{stage="booting"} 0',
      'caa_sandbox_stage_duration_seconds_count{stage="provisioning"} 1',
      'caa_sandbox_stage_duration_seconds_sum{stage="booting"} 21',
      'caa_sandbox_stage_duration_seconds_bucket{le="5",stage="provisioning"} 1',
      'caa_sandbox_lifecycle_duration_seconds_count{operation="start",outcome="ok"} 1',
      'caa_cloud_api_calls_total{provider="aws",operation="RunInstances",outcome="ok"} 1',
      'caa_cloud_api_calls_total{provider="aws",operation="RunInstances",outcome="throttled"} 1',
      'caa_cloud_api_throttles_total{provider="aws",operation="RunInstances",code="unknown"} 1',
      'caa_cloud_api_errors_total{provider="aws",operation="TerminateInstances",code="UnauthorizedOperation"} 1',
      'caa_cloud_api_throttles_total{provider="aws",operation="DescribeInstances",code="RequestLimitExceeded"} 1',
      'caa_cloud_api_calls_total{provider="aws",operation="DescribeInstances",outcome="ok"} 1',
      'caa_cloud_api_errors_total{provider="azure",operation="virtualMachines.createOrUpdate",code="AllocationFailed"} 1',
      'caa_cloud_api_call_duration_seconds_count{provider="aws",operation="RunInstances"} 1',
      'caa_agent_proxy_calls_total{method="grpc.AgentService/CreateContainer",outcome="ok"} 1',
      'caa_agent_proxy_calls_total{method="grpc.AgentService/CreateContainer",outcome="error"} 1',
      'caa_agent_proxy_calls_total{method="other",outcome="ok"} 1',
      'caa_agent_proxy_bytes_total{method="grpc.AgentService/CreateContainer",direction="in"} 2000',
      'caa_agent_proxy_bytes_total{method="grpc.AgentService/CreateContainer",direction="out"} 64',
      'caa_leaked_instances_total{event="found",provider="aws"} 1',
      'caa_leaked_instances_total{event="removed",provider="aws"} 1',
    ];
    for (const line of expect) assert.ok(text.includes(line), `missing ${line}`);
    assert.match(text, /^process_cpu_user_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    await app.close();
  });
});

test("no response on any route carries key material or credentials from the sandboxes", async () => {
  const srv = await listen(socketPath);
  const pods = { listNodePods: async (): Promise<NodePod[]> => [] };
  const metrics = new Metrics();
  const app = await buildOpsApp({
    source: sourceWithSecrets(),
    metrics,
    startup: new StartupCheck({ socketPath, pods }),
  });
  metrics.cloudCall("aws", "RunInstances", "ok", 10);
  try {
    const urls = [
      ...app
        .printRoutes({ commonPrefix: false })
        .split("\n")
        .map((l) => /(\/\S*) \(/.exec(l)?.[1])
        .filter((u): u is string => !!u),
      "/v1/sandboxes",
      `/v1/sandboxes/${ID_A}`,
      `/v1/sandboxes/${ID_B}`,
      "/v1/sandboxes/unknown",
      "/does-not-exist",
    ];
    const concrete = [...new Set(urls.filter((u) => !u.includes(":")))];
    for (const want of ["/startup", "/healthz", "/readyz", "/metrics", "/v1/sandboxes"])
      assert.ok(concrete.includes(want), `route ${want} covered`);
    for (const url of concrete) {
      const res = await app.inject({ method: "GET", url });
      const raw = JSON.stringify(res.headers) + res.body;
      for (const secret of SECRETS) assert.ok(!raw.includes(secret), `${url} leaks ${secret}`);
    }
  } finally {
    await app.close();
    await closeServer(srv);
  }
});

describe("/startup, /readyz, /healthz", () => {
  test("without the hypervisor socket: /startup 500, /readyz 503, /healthz 200", async () => {
    const app = await buildOpsApp({
      source: new FakeSandboxSource(),
      metrics: new Metrics({ defaultMetrics: false }),
      startup: new StartupCheck({ socketPath: join(dir, "missing.sock") }),
    });
    assert.equal((await app.inject("/startup")).statusCode, 500);
    assert.equal((await app.inject("/readyz")).statusCode, 503);
    assert.equal((await app.inject("/healthz")).statusCode, 200);
    await app.close();
  });

  test("outside Kubernetes /startup is 200 once the socket accepts connections, 500 after it closes", async () => {
    const path = join(dir, "plain.sock");
    const app = await buildOpsApp({
      source: new FakeSandboxSource(),
      metrics: new Metrics({ defaultMetrics: false }),
      startup: new StartupCheck({ socketPath: path }),
    });
    assert.equal((await app.inject("/startup")).statusCode, 500);
    const srv = await listen(path);
    assert.equal((await app.inject("/startup")).statusCode, 200);
    assert.equal((await app.inject("/readyz")).statusCode, 200);
    await closeServer(srv);
    assert.equal((await app.inject("/startup")).statusCode, 500);
    await app.close();
  });

  test("in Kubernetes /startup waits until every kata-remote pod on the node is Ready after our start", async () => {
    const path = join(dir, "k8s.sock");
    const srv = await listen(path);
    const startedAt = new Date("2026-05-01T10:00:00Z");
    const earlier = new Date("2026-05-01T09:00:00Z");
    const later = new Date("2026-05-01T10:00:30Z");
    let pods: NodePod[] = [
      { name: "other", namespace: "x", runtimeClassName: "runc", ready: { status: "False" } },
      { name: "fresh", namespace: "x", runtimeClassName: "kata-remote" },
      {
        name: "web",
        namespace: "x",
        runtimeClassName: "kata-remote",
        ready: { status: "True", lastTransitionTime: earlier },
      },
    ];
    let fail = false;
    let calls = 0;
    const lister = {
      listNodePods: async () => {
        calls++;
        if (fail) throw new Error("connection refused");
        return pods;
      },
    };
    const app = await buildOpsApp({
      source: new FakeSandboxSource(),
      metrics: new Metrics({ defaultMetrics: false }),
      startup: new StartupCheck({ socketPath: path, pods: lister, startedAt }),
    });
    const startup = async () => {
      const res = await app.inject("/startup");
      return { code: res.statusCode, reason: res.json<{ reason: string }>().reason };
    };
    assert.deepEqual(await startup(), {
      code: 500,
      reason: "peer pod x/web has not been restarted since this daemon started",
    });
    pods[2] = { ...pods[2], ready: { status: "False", lastTransitionTime: later } };
    assert.deepEqual(await startup(), { code: 500, reason: "peer pod x/web is not Ready" });
    fail = true;
    assert.equal((await startup()).code, 500);
    fail = false;
    pods[2] = { ...pods[2], ready: { status: "True", lastTransitionTime: later } };
    assert.equal((await startup()).code, 200);
    // Latched like upstream: the pods are not listed again once they were all back.
    const before = calls;
    pods = [{ name: "web", namespace: "x", runtimeClassName: "kata-remote", ready: { status: "False" } }];
    assert.equal((await startup()).code, 200);
    assert.equal(calls, before);
    await closeServer(srv);
    assert.equal((await startup()).code, 500);
    await app.close();
  });

  test("a custom RUNTIMECLASS_NAME selects which pods the probe waits for", async () => {
    const path = join(dir, "rc.sock");
    const srv = await listen(path);
    const pods: NodePod[] = [
      { name: "web", namespace: "x", runtimeClassName: "kata-remote", ready: { status: "False" } },
    ];
    const app = await buildOpsApp({
      source: new FakeSandboxSource(),
      metrics: new Metrics({ defaultMetrics: false }),
      startup: new StartupCheck({
        socketPath: path,
        pods: { listNodePods: async () => pods },
        runtimeClassName: "kata-peer",
      }),
    });
    assert.equal((await app.inject("/startup")).statusCode, 200);
    await app.close();
    await closeServer(srv);
  });
});
