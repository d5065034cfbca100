// Capacity fallback is the core's (src/sandbox/capacity.ts): on InsufficientCapacity the next
// allowed type that fits is tried, at most MAX_CAPACITY_ATTEMPTS, whichever provider answered —
// also a plugin that throws a plain object with only a code.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../src/log/logger.ts";
import { MAX_CAPACITY_ATTEMPTS, createWithFallback } from "../../src/sandbox/capacity.ts";
import { LifecycleError } from "../../src/sandbox/errors.ts";
import { SandboxManager } from "../../src/sandbox/manager.ts";
import { SandboxStore } from "../../src/sandbox/store.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";

const TYPES = [
  { name: "f.xlarge", vcpus: 8, memoryMiB: 32768, gpus: 0 },
  { name: "f.small", vcpus: 1, memoryMiB: 2048, gpus: 0 },
  { name: "f.large", vcpus: 4, memoryMiB: 16384, gpus: 0 },
  { name: "f.medium", vcpus: 2, memoryMiB: 8192, gpus: 0 },
];
const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };
const never = new AbortController().signal;

async function lifecycle(provider: FakeProvider, t: { after(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), "caa-cap-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await SandboxStore.open(join(dir, "state"));
  return new SandboxManager({
    provider,
    store,
    logger: silentLogger(),
    config: { podsDir: join(dir, "p"), cluster: "c1", node: "n1", initdata: "", enableScratchSpace: false },
  });
}

for (const capacityAs of ["class", "plain-object"] as const) {
  test(`StartVM moves to the next larger type on no capacity (${capacityAs})`, async (t) => {
    const provider = new FakeProvider({ types: TYPES, defaultType: "f.small" });
    provider.capacityAs = capacityAs;
    provider.noCapacity.add("f.small").add("f.medium");
    const manager = await lifecycle(provider, t);
    const id = "a".repeat(64);
    await manager.createVM({ id, annotations: POD, netnsPath: "" });
    await manager.startVM(id, never);
    assert.deepEqual(provider.createdTypes, ["f.small", "f.medium", "f.large"]);
    assert.equal(manager.get(id)?.stage, "running");
    assert.equal(provider.remaining().length, 1);
  });

  test(`no capacity for any candidate: the bound holds and the error names the types tried (${capacityAs})`, async (t) => {
    const provider = new FakeProvider({ types: TYPES, defaultType: "f.small" });
    provider.capacityAs = capacityAs;
    for (const type of TYPES) provider.noCapacity.add(type.name);
    const manager = await lifecycle(provider, t);
    const id = "b".repeat(64);
    await manager.createVM({ id, annotations: POD, netnsPath: "" });
    await assert.rejects(manager.startVM(id, never), (err: LifecycleError) => {
      const code = capacityAs === "class" ? "FakeNoCapacity" : "InsufficientCapacity";
      assert.equal(err.code, code);
      assert.equal(
        err.message,
        `provisioning: no capacity for f.small; tried f.medium (${code}), f.large (${code})`,
      );
      return true;
    });
    assert.equal(provider.createdTypes.length, MAX_CAPACITY_ATTEMPTS);
    assert.deepEqual(provider.remaining(), []);
    assert.equal(manager.get(id)?.stage, "failed");
  });
}

test("a failure that is not about capacity ends the fallback at once", async () => {
  const provider = new FakeProvider({ types: TYPES, defaultType: "f.small" });
  provider.failCreate = Object.assign(new Error("quota"), { code: "QuotaExceeded" });
  await assert.rejects(
    createWithFallback(provider, {
      name: "podvm-web-aaaaaaaa",
      userData: "",
      spec: { instanceType: "f.small", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
      owner: { cluster: "c1", node: "n1", sandboxId: "a", podName: "web", podNamespace: "shop" },
    }),
    /quota/,
  );
  assert.deepEqual(provider.createdTypes, ["f.small"]);
});
