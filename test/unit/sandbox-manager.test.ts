// The lifecycle on its own, with an in-memory provider and agent port: what is persisted when,
// what a failure cleans up, and which stage its message names.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ProviderError } from "../../providers/errors.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { LifecycleError } from "../../src/sandbox/errors.ts";
import { SandboxManager } from "../../src/sandbox/manager.ts";
import type { AgentPort } from "../../src/sandbox/ports.ts";
import { SandboxStore } from "../../src/sandbox/store.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "caa-mgr-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let setups = 0;

async function setup(name: string, agent?: AgentPort) {
  // Short pod dirs: a 64-character id's agent socket must fit in 107 bytes.
  const podsDir = join(dir, `p${setups++}`);
  const provider = new FakeProvider({
    types: [{ name: "m.small", vcpus: 2, memoryMiB: 4096, gpus: 0 }],
    idPrefix: "i-",
    ip: () => "192.0.2.10",
  });
  const store = await SandboxStore.open(join(dir, name, "state"));
  const manager = new SandboxManager({
    provider,
    store,
    logger: silentLogger(),
    config: { podsDir, cluster: "c1", node: "n1", initdata: "", enableScratchSpace: false },
    agent,
  });
  return { provider, store, manager };
}

const never = new AbortController().signal;

test("CreateVM persists the sandbox with rendered user-data and no cloud call", async () => {
  const { provider, store, manager } = await setup("create");
  const res = await manager.createVM({ id: "a".repeat(64), annotations: POD, netnsPath: "" });
  assert.equal(res.agentSocketPath, join(manager.deps.config.podsDir, "a".repeat(64), "agent.ttrpc"));
  assert.equal(provider.creates, 0);
  const files = await readdir(store.dir);
  assert.deepEqual(files, ["a".repeat(64) + ".json"]);
  const rec = JSON.parse(await readFile(join(store.dir, files[0]), "utf8")) as {
    stage: string;
    userData: string;
  };
  assert.equal(rec.stage, "created");
  assert.match(rec.userData, /^#cloud-config\n\nwrite_files:\n {2}- path: \/run\/peerpod\/apf.json\n/);
  await assert.rejects(
    manager.createVM({ id: "a".repeat(64), annotations: POD, netnsPath: "" }),
    (e: LifecycleError) => e.kind === "already-exists",
  );
});

test("a failed agent connection deletes the instance and names the stage", async () => {
  const agent: AgentPort = {
    apfTls: async () => ({}),
    connect: async () => {
      throw new Error("no answer from 192.0.2.10:15150 after 5m");
    },
  };
  const { provider, store, manager } = await setup("agentfail", agent);
  const id = "b".repeat(64);
  await manager.createVM({ id, annotations: POD, netnsPath: "" });
  await assert.rejects(manager.startVM(id, never), (e: LifecycleError) => {
    assert.equal(e.message, "agent-connect: no answer from 192.0.2.10:15150 after 5m");
    return true;
  });
  assert.equal(provider.instances.size, 0, "the instance was deleted");
  const rec = store.get(id)!;
  assert.equal(rec.stage, "failed");
  assert.equal(rec.instance, undefined);
  assert.equal(rec.lastError?.stage, "agent-connect");
});

test("a cloud error reaches the caller with the stage and the cloud's code", async () => {
  const { provider, store, manager } = await setup("cloudfail");
  provider.failCreate = new ProviderError("AWS InsufficientInstanceCapacity for m.small", {
    code: "InsufficientInstanceCapacity",
  });
  const id = "c".repeat(64);
  await manager.createVM({ id, annotations: POD, netnsPath: "" });
  await assert.rejects(manager.startVM(id, never), (e: LifecycleError) => {
    assert.equal(e.code, "InsufficientInstanceCapacity");
    assert.match(e.message, /^provisioning: AWS InsufficientInstanceCapacity/);
    return true;
  });
  assert.equal(store.get(id)?.lastError?.code, "InsufficientInstanceCapacity");
  // A retried StartVM after the failure works.
  provider.failCreate = undefined;
  await manager.startVM(id, never);
  assert.equal(store.get(id)?.stage, "running");
});

test("calls for one sandbox are serialised; a concurrent StartVM creates one instance", async () => {
  const { provider, manager } = await setup("serial");
  provider.createDelayMs = 50;
  const id = "d".repeat(64);
  await manager.createVM({ id, annotations: POD, netnsPath: "" });
  await Promise.all([manager.startVM(id, never), manager.startVM(id, never), manager.startVM(id, never)]);
  assert.equal(provider.creates, 1);
  await Promise.all([manager.stopVM(id), manager.stopVM(id)]);
  assert.equal(provider.instances.size, 0);
});

test("the instance id is on disk before StartVM's later steps can fail", async () => {
  let seenOnDisk: string | undefined;
  const { store, manager } = await setup("order", {
    apfTls: async () => ({}),
    connect: async ({ sandboxId }) => {
      const text = await readFile(join(store.dir, `${sandboxId}.json`), "utf8");
      seenOnDisk = (JSON.parse(text) as { instance?: { id: string } }).instance?.id;
      return { close: async () => undefined };
    },
  });
  const id = "e".repeat(64);
  await manager.createVM({ id, annotations: POD, netnsPath: "" });
  await manager.startVM(id, never);
  assert.equal(seenOnDisk, "i-1");
});

test("recovery undoes a StartVM cut off inside the cloud call, found by its owner tag", async () => {
  const { provider, store, manager } = await setup("recover");
  const id = "f".repeat(64);
  await manager.createVM({ id, annotations: POD, netnsPath: "" });
  // Simulate the daemon dying inside provider.create: the cloud has the instance, the record says provisioning.
  const rec = store.get(id)!;
  rec.stage = "provisioning";
  await store.put(rec);
  await provider.create({
    name: "podvm-web-ffffffff",
    userData: "",
    spec: rec.spec,
    owner: { cluster: "c1", node: "n1", sandboxId: id, podName: "web", podNamespace: "shop" },
  });
  const fresh = new SandboxManager({ ...manager.deps, store: await SandboxStore.open(store.dir) });
  const report = await fresh.recover();
  assert.deepEqual(report.undone, [id]);
  assert.equal(provider.instances.size, 0);
  assert.equal(fresh.get(id)?.stage, "failed");
});

test("tunnel indexes are unique across concurrent CreateVMs and reused only after StopVM", async () => {
  const store = await SandboxStore.open(join(dir, "vni", "state"));
  const a = store.reserveTunnelIndex();
  const b = store.reserveTunnelIndex();
  assert.notEqual(a, b);
  store.releaseTunnelIndex(a);
  assert.equal(store.reserveTunnelIndex(), a);
});

test("the pod's cloud volumes are read from the API server, recorded, and handed to the agent proxy again after a restart", async () => {
  const seen: Array<{ sandboxId: string; volumes: unknown }> = [];
  const agent: AgentPort = {
    apfTls: async () => ({}),
    connect: async ({ sandboxId, cloudVolumes }) => {
      seen.push({ sandboxId, volumes: cloudVolumes?.map((v) => [v.name, v.mountPoint, v.lun, v.diskId]) });
      return { close: async () => undefined };
    },
  };
  const asked: string[] = [];
  const { provider, store, manager } = await setup("volumes", agent);
  const annotation = {
    data: { mount_point: "/data", fs_type: "ext4", lun: "2", disk_id: "vol-0123456789abcdef0" },
  };
  const withPod = new SandboxManager({
    ...manager.deps,
    podAnnotations: {
      annotation: async (namespace, name, key) => {
        asked.push(`${namespace}/${name} ${key}`);
        return name === "web" ? JSON.stringify(annotation) : '{"bad": {"mount_point": "x"}}';
      },
    },
  });
  const id = "7".repeat(64);
  await withPod.createVM({ id, annotations: POD, netnsPath: "" });
  assert.deepEqual(asked, ["shop/web io.confidentialcontainers.org.cloud_volumes"]);
  assert.deepEqual(store.get(id)?.spec.volumes, [{ name: "data", diskId: "vol-0123456789abcdef0", lun: 2 }]);
  await withPod.startVM(id, never);
  const want = [["data", "/data", 2, "vol-0123456789abcdef0"]];
  assert.deepEqual(seen, [{ sandboxId: id, volumes: want }]);

  // A restarted daemon: a new manager on the same records reconnects with the recorded volumes.
  const fresh = new SandboxManager({ ...withPod.deps, store: await SandboxStore.open(store.dir) });
  await fresh.recover();
  for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen[1], { sandboxId: id, volumes: want });

  // A bad annotation fails CreateVM with the field named, and nothing is recorded.
  const other = "8".repeat(64);
  await assert.rejects(
    withPod.createVM({
      id: other,
      annotations: { ...POD, "io.kubernetes.cri.sandbox-name": "db" },
      netnsPath: "",
    }),
    (e: LifecycleError) =>
      e.kind === "invalid-argument" && /volume "bad": fs_type is missing/.test(e.message),
  );
  assert.equal(store.get(other), undefined);
  await fresh.stopVM(id);
  assert.equal(provider.instances.size, 0);
});

test("recovery removes a pod directory no record names (a CreateVM cut off by kill -9) and keeps the others", async () => {
  const { store, manager } = await setup("strays");
  const { podsDir } = manager.deps.config;
  const kept = "3".repeat(64);
  await manager.createVM({ id: kept, annotations: POD, netnsPath: "" });
  // What a kill -9 between the pod directory's creation and the save of the record leaves.
  const stray = "4".repeat(64);
  await mkdir(join(podsDir, stray), { mode: 0o700 });
  await writeFile(join(podsDir, stray, "agent.ttrpc"), "");
  const fresh = new SandboxManager({ ...manager.deps, store: await SandboxStore.open(store.dir) });
  await fresh.recover();
  assert.deepEqual((await readdir(podsDir)).sort(), [kept]);
});
