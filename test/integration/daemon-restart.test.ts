// Durable state: `kill -9` the daemon — between calls and inside StartVM's cloud call — and start
// it again. Running sandboxes stay usable, half-made ones are undone through the provider, nothing
// is leaked or forgotten. Also: external provider modules pinned by sha256.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { after, before, test } from "node:test";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import { createVM, startVM, stopVM } from "../../src/cli/sandbox.ts";
import {
  RECOVERED,
  cleanupDaemon,
  daemonEnv,
  makeDaemonDir,
  processesMentioning,
  startDaemon,
  vmNamespaces,
} from "../helpers/daemon.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };
const FIXTURE = fileURLToPath(new URL("../fixtures/provider-plugin/fixture.ts", import.meta.url));
const FIXTURE_HASH = createHash("sha256").update(readFileSync(FIXTURE)).digest("hex");

function id(n: number): string {
  return `${n}`.padStart(2, "0").repeat(32);
}

/**
 * The fixture's instances run nothing, so the agent proxy is pointed (plain TCP, -disable-tls) at a
 * listener on 127.0.0.1 that accepts and holds connections: StartVM's agent-connect succeeds.
 */
let forwarderStandIn: net.Server;
let standInPort = 0;
const FIXTURE_ARGS = ["-disable-tls"];

before(async () => {
  const held: net.Socket[] = [];
  forwarderStandIn = net.createServer((s) => held.push(s.on("error", () => undefined)));
  await new Promise<void>((r) => forwarderStandIn.listen(0, "127.0.0.1", r));
  standInPort = (forwarderStandIn.address() as net.AddressInfo).port;
  forwarderStandIn.on("close", () => held.forEach((s) => s.destroy()));
});
after(() => {
  forwarderStandIn.close();
});

function fixtureEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    FORWARDER_HOST: "127.0.0.1",
    FORWARDER_PORT: String(standInPort),
    CLOUD_PROVIDER: "fixture",
    ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN: "true",
    CLOUD_PROVIDER_EXTERNAL_PLUGIN_PATH: FIXTURE,
    CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH: FIXTURE_HASH,
    ...extra,
  };
}

/** CreateVM + StartVM of one sandbox of POD through the Go shim; both must succeed. */
async function createAndStart(socket: string, sid: string): Promise<void> {
  const steps = await goShimLifecycle(socket, { id: sid, annotations: POD, steps: ["create", "start"] });
  assert.deepEqual(
    steps.map((s) => s.code),
    [0, 0],
  );
}

function fixtureInstances(stateDir: string): { id: string; tags: Record<string, string> }[] {
  const file = join(stateDir, "provider-fixture", "instances.json");
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as { id: string; tags: Record<string, string> }[])
    : [];
}

test("running sandboxes survive kill -9 of the daemon and stay usable", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir);
  const before = vmNamespaces(env.LOCAL_NETNS_PREFIX);
  let daemon = await startDaemon(dir, env);
  try {
    const ids = [1, 2, 3].map(id);
    for (const sid of ids) await createAndStart(daemon.socket, sid);
    const running = vmNamespaces(env.LOCAL_NETNS_PREFIX).filter((n) => !before.includes(n));
    await daemon.kill("SIGKILL");
    // The VMs outlive the daemon, as cloud VMs would.
    assert.deepEqual(
      vmNamespaces(env.LOCAL_NETNS_PREFIX).filter((n) => !before.includes(n)),
      running,
    );

    daemon = await startDaemon(dir, env);
    assert.match(daemon.logs(), /recovered sandboxes from the state directory running=3/);
    for (const sid of ids) {
      // StartVM on a known running sandbox is a no-op; StopVM tears it down.
      const steps = await goShimLifecycle(daemon.socket, { id: sid, steps: ["start", "stop"] });
      assert.deepEqual(
        steps.map((s) => [s.step, s.code, s.message]),
        [
          ["StartVM", 0, ""],
          ["StopVM", 0, ""],
        ],
      );
    }
    assert.deepEqual(vmNamespaces(env.LOCAL_NETNS_PREFIX), before, "no VM namespace orphaned");
    await daemon.kill("SIGTERM");
    assert.deepEqual(processesMentioning(dir), [], "no VM process orphaned");
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});

// The instance's record and "running" are written without an fsync (src/sandbox/recovery.ts): if
// the machine goes down, the record may come back as "provisioning" with no instance. Recovery
// must then find the instance by the sandbox's owner tags.
test("a record one write older after the machine went down (provisioning, no instance): the next daemon deletes the instance by its tags", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, fixtureEnv());
  let daemon = await startDaemon(dir, env, 30_000, { args: FIXTURE_ARGS });
  try {
    const sid = id(5);
    await createAndStart(daemon.socket, sid);
    assert.equal(fixtureInstances(daemon.stateDir).length, 1);
    await daemon.kill("SIGKILL");
    const file = join(daemon.stateDir, "sandboxes", `${sid}.json`);
    const rec = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    assert.equal(rec.stage, "running");
    rec.stage = "provisioning";
    delete rec.instance;
    writeFileSync(file, JSON.stringify(rec));

    daemon = await startDaemon(dir, env, 30_000, { args: FIXTURE_ARGS });
    assert.deepEqual(
      fixtureInstances(daemon.stateDir),
      [],
      "the instance found by its owner tags was deleted",
    );
    assert.match(daemon.logs(), /undid a StartVM interrupted by a restart/);
    const stop = await goShimLifecycle(daemon.socket, { id: sid, steps: ["stop"] });
    assert.equal(stop[0].code, 0);
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});

test("kill -9 inside StartVM's cloud call: the next daemon deletes the half-made instance", async () => {
  const dir = await makeDaemonDir();
  const slow = daemonEnv(dir, fixtureEnv({ FIXTURE_CREATE_DELAY_MS: "20000" }));
  let daemon = await startDaemon(dir, slow, 30_000, { args: FIXTURE_ARGS });
  try {
    const sid = id(4);
    const [create] = await goShimLifecycle(daemon.socket, { id: sid, annotations: POD, steps: ["create"] });
    assert.equal(create.code, 0);
    const start = goShimLifecycle(daemon.socket, { id: sid, steps: ["start"] }).catch(() => []);
    for (let i = 0; i < 200 && fixtureInstances(daemon.stateDir).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const made = fixtureInstances(daemon.stateDir);
    assert.equal(made.length, 1, "the cloud made the instance");
    assert.equal(made[0].tags["peerpod-sandbox-id"], sid, "and tagged it with its owner");
    await daemon.kill("SIGKILL");
    await start;

    daemon = await startDaemon(dir, daemonEnv(dir, fixtureEnv()), 30_000, { args: FIXTURE_ARGS });
    assert.deepEqual(fixtureInstances(daemon.stateDir), [], "the half-made instance was deleted");
    assert.match(daemon.logs(), /undid a StartVM interrupted by a restart/);
    // The sandbox is still known: the shim may retry StartVM, then stop it.
    const steps = await goShimLifecycle(daemon.socket, { id: sid, steps: ["start", "stop"] });
    assert.deepEqual(
      steps.map((s) => s.code),
      [0, 0],
    );
    assert.deepEqual(fixtureInstances(daemon.stateDir), []);
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: slow.LOCAL_BRIDGE });
  }
});

test("an external provider module is loaded by path and hash and drives a lifecycle", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, fixtureEnv());
  const daemon = await startDaemon(dir, env, 30_000, { args: FIXTURE_ARGS });
  try {
    const sid = id(5);
    await createAndStart(daemon.socket, sid);
    const [instance] = fixtureInstances(daemon.stateDir);
    assert.equal(instance?.tags.Name, `podvm-web-${sid.slice(0, 8)}`);
    await goShimLifecycle(daemon.socket, { id: sid, steps: ["stop"] });
    assert.deepEqual(fixtureInstances(daemon.stateDir), []);
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});

test("the Rust shim's 1-second StopVM deadline does not cancel a slow VM deletion", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, fixtureEnv({ FIXTURE_DELETE_DELAY_MS: "3000" }));
  const daemon = await startDaemon(dir, env, 30_000, { args: FIXTURE_ARGS });
  try {
    const sid = id(6);
    const steps = await goShimLifecycle(daemon.socket, { id: sid, annotations: POD, style: "rust" });
    assert.deepEqual(
      steps.slice(0, 2).map((s) => s.code),
      [0, 0],
    );
    // The shim gave up after 1 s (DeadlineExceeded, only logged by runtime-rs) ...
    assert.equal(steps[2].step, "StopVM");
    assert.equal(steps[2].code, 4, steps[2].message);
    assert.equal(fixtureInstances(daemon.stateDir).length, 1, "deletion still in progress");
    // ... but the deletion carries on and completes.
    for (let i = 0; i < 100 && fixtureInstances(daemon.stateDir).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(fixtureInstances(daemon.stateDir), []);
    const [again] = await goShimLifecycle(daemon.socket, { id: sid, steps: ["stop"] });
    assert.equal(again.code, 0, "and a repeated StopVM succeeds");
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});

test("an external provider module whose sha256 does not match is refused", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, fixtureEnv({ CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH: "0".repeat(64) }));
  try {
    await assert.rejects(
      startDaemon(dir, env, 15_000),
      /sha256 [0-9a-f]{64} does not match CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH 0{64}/,
    );
  } finally {
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});

test("after a restart the socket serves while sandboxes recover, each under its lock", async () => {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, fixtureEnv());
  let daemon = await startDaemon(dir, env, 30_000, { args: FIXTURE_ARGS });
  const o = () => ({ socket: daemon.socket });
  try {
    const ids = Array.from({ length: 10 }, (_, i) => id(20 + i));
    for (const sid of ids) {
      await createVM(o(), sid, POD, "");
      await startVM(o(), sid);
    }
    await daemon.kill("SIGKILL");

    // Each recovery checks its instance with a slow get: one at a time this would be 10 × 4 s.
    const slow = daemonEnv(dir, fixtureEnv({ FIXTURE_GET_DELAY_MS: "4000" }));
    daemon = await startDaemon(dir, slow, 60_000, { args: FIXTURE_ARGS, recovered: false });
    // A new sandbox is served at once, while the others are still being recovered ...
    await createVM(o(), id(40), POD, "");
    assert.doesNotMatch(daemon.logs(), new RegExp(RECOVERED), "CreateVM answered before recovery ended");
    // ... and a call for a recovering sandbox waits for its recovery, then acts on what it left.
    await stopVM(o(), ids[0]);
    assert.equal(sandboxStage(daemon.stateDir, ids[0]), "stopped");
    for (let i = 0; i < 300 && !daemon.logs().includes(RECOVERED); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(daemon.logs(), /recovered sandboxes from the state directory running=10/);
    assert.equal(sandboxStage(daemon.stateDir, ids[0]), "stopped", "recovery did not touch it after StopVM");
    assert.deepEqual(
      fixtureInstances(daemon.stateDir)
        .map((i) => i.tags["peerpod-sandbox-id"])
        .sort(),
      ids.slice(1).sort(),
    );
    for (const sid of ids.slice(1)) await stopVM(o(), sid);
    await stopVM(o(), id(40));
    assert.deepEqual(fixtureInstances(daemon.stateDir), []);
  } finally {
    await daemon.kill("SIGKILL");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
});

function sandboxStage(stateDir: string, sid: string): string | undefined {
  const file = join(stateDir, "sandboxes", `${sid}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { stage: string }).stage : undefined;
}
