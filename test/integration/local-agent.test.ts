// The agent data path end to end on the local provider: after StartVM, the kata shim's calls on
// agentSocketPath reach the kata agent inside the VM namespace through the mTLS proxy and the
// forwarder; StopVM leaves no namespace, process, socket or key. Restarts keep the path working.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CreateContainerRequest } from "../../src/gen/agent/agent.ts";
import { TtrpcClient } from "../../src/ttrpc/index.ts";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { goClientCall, goShimLifecycle } from "../helpers/go-peer.ts";
import {
  cleanupDaemon,
  daemonEnv,
  makeDaemonDir,
  processesMentioning,
  startDaemon,
  vmNamespaces,
  type DaemonProcess,
} from "../helpers/daemon.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "app", "io.kubernetes.cri.sandbox-namespace": "default" };

/** The agent calls the test agent in each local VM recorded, by VM directory. */
function agentCalls(stateDir: string): { service: string; method: string; request?: unknown }[] {
  const root = join(stateDir, "provider-local");
  const calls = [];
  for (const vm of readdirSync(root).filter((n) => n.startsWith("local-") && !n.endsWith(".json"))) {
    const file = join(root, vm, "root", "agent-calls.jsonl");
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").filter(Boolean)) {
      calls.push(JSON.parse(line) as { service: string; method: string; request?: unknown });
    }
  }
  return calls;
}

describe("the agent path through a local VM", () => {
  let dir: string;
  let env: Record<string, string>;
  let daemon: DaemonProcess;

  before(async () => {
    dir = await makeDaemonDir();
    env = daemonEnv(dir);
    daemon = await startDaemon(dir, env);
  });
  after(async () => {
    await daemon?.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  });

  test("Health/Check and CreateContainer reach the agent in the VM over mTLS; StopVM leaves nothing", async () => {
    const id = randomBytes(32).toString("hex");
    const before = vmNamespaces(env.LOCAL_NETNS_PREFIX);
    const [create, start] = await goShimLifecycle(daemon.socket, {
      id,
      annotations: POD,
      steps: ["create", "start"],
    });
    assert.equal(start.code, 0, start.message);
    const socket = create.agentSocketPath!;

    assert.equal(await agentHealth(socket), "SERVING");
    // containerd's Go ttrpc client, as the kata shim calls it.
    const [go] = await goClientCall(socket, { service: "grpc.Health", method: "Check" });
    assert.equal(go.code, 0, go.message);

    const client = await TtrpcClient.connect(socket);
    try {
      const req = CreateContainerRequest.encode(
        CreateContainerRequest.fromPartial({
          containerId: "c1",
          OCI: {
            Version: "1.1.0",
            Hostname: "app",
            Annotations: { "io.katacontainers.config.hypervisor.default_gpus": "1" },
            Linux: { Namespaces: [{ Type: "pid", Path: "" }] },
          },
        }),
      ).finish();
      await client.call("grpc.AgentService", "CreateContainer", req, { timeoutMs: 30_000 });
    } finally {
      client.close();
    }
    const created = agentCalls(daemon.stateDir).find((c) => c.method === "CreateContainer");
    assert.ok(created, "CreateContainer reached the agent");
    const text = JSON.stringify(created.request);
    assert.match(text, /"network"/, "the forwarder added the pod network namespace");
    assert.match(text, /\/run\/netns\/cvm[0-9a-f]+-[0-9a-f]+-pod"/, "pointing at the VM's pod namespace");
    assert.match(text, /cdi\.k8s\.io\/peer-pods/, "the proxy added the GPU CDI annotation");

    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0);
    assert.deepEqual(vmNamespaces(env.LOCAL_NETNS_PREFIX), before, "no VM namespace");
    assert.equal(existsSync(socket), false, "no agent socket");
    const vmDirs = readdirSync(join(daemon.stateDir, "provider-local")).filter((n) => n.startsWith("local-"));
    assert.deepEqual(vmDirs, [], "no VM directory (user-data, keys)");
    assert.deepEqual(processesMentioning(join(daemon.stateDir, "provider-local")), [], "no VM process");
  });

  test("after kill -9 of the daemon, a running sandbox's agent socket works again", async () => {
    const id = randomBytes(32).toString("hex");
    const [create] = await goShimLifecycle(daemon.socket, {
      id,
      annotations: POD,
      steps: ["create", "start"],
    });
    const socket = create.agentSocketPath!;
    assert.equal(await agentHealth(socket), "SERVING");

    await daemon.kill("SIGKILL");
    daemon = await startDaemon(dir, env);
    // The proxy re-dials the VM with the CA kept on disk; the shim's next call works.
    let status = "";
    for (let i = 0; i < 100 && status !== "SERVING"; i++) {
      status = await agentHealth(socket).catch(() => "");
      if (status !== "SERVING") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, "SERVING", daemon.logs());
    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0);
  });
});

test("kill -9 during agent-connect: the next daemon deletes the half-made VM", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, { LOCAL_BOOT_DELAY: "20s" });
  const before = vmNamespaces(env.LOCAL_NETNS_PREFIX);
  let daemon = await startDaemon(dir, env);
  try {
    const id = randomBytes(32).toString("hex");
    await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create"] });
    const start = goShimLifecycle(daemon.socket, { id, steps: ["start"] }).catch(() => []);
    for (let i = 0; i < 200 && vmNamespaces(env.LOCAL_NETNS_PREFIX).length === before.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(vmNamespaces(env.LOCAL_NETNS_PREFIX).length, before.length + 1, "the VM exists");
    await daemon.kill("SIGKILL");
    await start;

    daemon = await startDaemon(dir, { ...env, LOCAL_BOOT_DELAY: "0s" });
    assert.deepEqual(vmNamespaces(env.LOCAL_NETNS_PREFIX), before, "the half-made VM was deleted");
    assert.match(daemon.logs(), /undid a StartVM interrupted by a restart/);
    const steps = await goShimLifecycle(daemon.socket, { id, steps: ["start", "stop"] });
    assert.deepEqual(
      steps.map((s) => s.code),
      [0, 0],
    );
    assert.deepEqual(vmNamespaces(env.LOCAL_NETNS_PREFIX), before);
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});
