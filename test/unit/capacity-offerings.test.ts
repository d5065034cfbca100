// The unavailable-offerings cache in the core's capacity fallback (src/sandbox/capacity.ts with
// src/capacity/unavailable-offerings.ts): a type that had no capacity is skipped at selection by
// the next sandboxes of any provider, making room for the next candidate, until its entry expires.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UnavailableOfferings } from "../../src/capacity/unavailable-offerings.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { LifecycleError } from "../../src/sandbox/errors.ts";
import { SandboxManager } from "../../src/sandbox/manager.ts";
import { SandboxStore } from "../../src/sandbox/store.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";

const TYPES = [
  { name: "f.small", vcpus: 1, memoryMiB: 2048, gpus: 0 },
  { name: "f.medium", vcpus: 2, memoryMiB: 8192, gpus: 0 },
  { name: "f.large", vcpus: 4, memoryMiB: 16384, gpus: 0 },
  { name: "f.xlarge", vcpus: 8, memoryMiB: 32768, gpus: 0 },
];
const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };
const never = new AbortController().signal;

async function manager(
  provider: FakeProvider,
  offerings: UnavailableOfferings,
  t: { after(fn: () => unknown): void },
) {
  const dir = await mkdtemp(join(tmpdir(), "caa-offer-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new SandboxManager({
    provider,
    store: await SandboxStore.open(join(dir, "state")),
    logger: silentLogger(),
    config: { podsDir: join(dir, "p"), cluster: "c1", node: "n1", initdata: "", enableScratchSpace: false },
    offerings,
  });
}

let next = 0;
async function startOne(m: SandboxManager): Promise<void> {
  const id = (next++).toString(16).padStart(64, "0");
  await m.createVM({ id, annotations: POD, netnsPath: "" });
  await m.startVM(id, never);
}

test("after one no-capacity answer the next sandboxes skip the type until its entry expires", async (t) => {
  let now = 1_000_000;
  const offerings = new UnavailableOfferings({ ttlMs: 180_000, now: () => now });
  const provider = new FakeProvider({ types: TYPES, defaultType: "f.small" });
  provider.noCapacity.add("f.small");
  const m = await manager(provider, offerings, t);
  await startOne(m);
  assert.deepEqual(provider.createdTypes, ["f.small", "f.medium"]);
  assert.deepEqual(
    offerings.list().map((o) => o.instanceType),
    ["f.small"],
  );

  provider.createdTypes.length = 0;
  now += 179_999;
  for (let i = 0; i < 5; i++) await startOne(m);
  assert.deepEqual(provider.createdTypes, Array(5).fill("f.medium"), "f.small never asked while fresh");
  assert.equal(offerings.list()[0].skips, 5);

  provider.createdTypes.length = 0;
  provider.noCapacity.clear();
  now += 1;
  await startOne(m);
  assert.deepEqual(provider.createdTypes, ["f.small"], "asked again once the entry expired");
});

test("a skipped type makes room: the StartVM still tries three types that are not remembered", async (t) => {
  const offerings = new UnavailableOfferings();
  offerings.mark("f.small", "FakeNoCapacity");
  const provider = new FakeProvider({ types: TYPES, defaultType: "f.small" });
  provider.noCapacity.add("f.medium").add("f.large");
  const m = await manager(provider, offerings, t);
  await startOne(m);
  assert.deepEqual(provider.createdTypes, ["f.medium", "f.large", "f.xlarge"]);
});

test("every fitting type remembered: StartVM fails at once naming them, without a cloud call", async (t) => {
  const offerings = new UnavailableOfferings();
  for (const type of TYPES) offerings.mark(type.name, "FakeNoCapacity");
  const provider = new FakeProvider({ types: TYPES, defaultType: "f.small" });
  const m = await manager(provider, offerings, t);
  await assert.rejects(startOne(m), (err: LifecycleError) => {
    assert.equal(err.code, "FakeNoCapacity");
    assert.match(err.message, /f\.small \(FakeNoCapacity\), f\.medium \(FakeNoCapacity\), f\.large/);
    assert.match(err.message, /not asked again until the entries expire/);
    return true;
  });
  assert.deepEqual(provider.createdTypes, []);
});
