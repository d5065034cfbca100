// What a restarted daemon's pool does with each record a killed one left (src/pool/pool.ts
// recover), against the memory provider: a claim cut off before its sandbox recorded the VM
// deletes the VM; one its sandbox holds is left to the sandbox; a create cut off inside the cloud
// call adopts the instance its slot tag finds, or forgets the slot; a VM that vanished is forgotten.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { silentLogger } from "../../src/log/logger.ts";
import { WarmPool } from "../../src/pool/pool.ts";
import { PoolStore, type PoolRecord } from "../../src/pool/store.ts";
import { PoolAuthority } from "../../src/tls/pool-authority.ts";
import { FakeProvider, ownerTags } from "../helpers/fake-provider.ts";

const CLUSTER = "c1";
let dir: string;
let authority: PoolAuthority;
// The readiness probe of an adopted VM goes here (it hangs up), never to the fake's addresses.
let probe: net.Server;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pool-recovery-"));
  authority = await PoolAuthority.loadOrCreate(join(dir, "pool-tls"));
  probe = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
});
after(async () => {
  probe.close();
  await rm(dir, { recursive: true, force: true });
});

function slotRecord(slot: string, over: Partial<PoolRecord>): PoolRecord {
  return {
    slot,
    key: "mem.small",
    instanceType: "mem.small",
    image: "",
    name: `podvm-${slot}`,
    fingerprint: "00".repeat(32),
    state: "ready",
    createdAt: new Date().toISOString(),
    ...over,
  };
}

function plantPooled(provider: FakeProvider, slot: string): { id: string; ips: string[] } {
  const inst = provider.plant(
    ownerTags(
      { cluster: CLUSTER, node: "", sandboxId: slot, podName: "", podNamespace: "", role: "pool" },
      `podvm-${slot}`,
    ),
  );
  return { id: inst.id, ips: inst.ips };
}

async function restartWith(
  provider: FakeProvider,
  records: PoolRecord[],
  sandboxHolds: string[] = [],
): Promise<PoolStore> {
  const storeDir = await mkdtemp(join(dir, "store-"));
  const before = await PoolStore.open(storeDir);
  for (const r of records) await before.put(r);
  const store = await PoolStore.open(storeDir);
  const pool = new WarmPool({
    provider,
    store,
    authority,
    targets: [],
    cluster: CLUSTER,
    node: "",
    forwarderHost: "127.0.0.1",
    forwarderPort: (probe.address() as net.AddressInfo).port,
    maxAgeMs: 0,
    refillConcurrency: 1,
    bootTimeoutMs: 3600_000,
    logger: silentLogger(),
    sandboxOwns: (id) => sandboxHolds.includes(id),
  });
  await pool.start();
  await pool.close();
  return store;
}

test("a claim cut off before its sandbox recorded the VM: the VM is deleted and the slot forgotten", async () => {
  const provider = new FakeProvider();
  const instance = plantPooled(provider, "pool-a1");
  const store = await restartWith(provider, [
    slotRecord("pool-a1", { state: "claimed", claimedBy: "f".repeat(64), instance }),
  ]);
  assert.deepEqual(provider.deleted, [instance.id]);
  assert.deepEqual(store.all(), []);
});

test("a claim its sandbox holds: the slot is forgotten, the VM left to the sandbox's recovery", async () => {
  const provider = new FakeProvider();
  const instance = plantPooled(provider, "pool-a2");
  const store = await restartWith(
    provider,
    [slotRecord("pool-a2", { state: "claimed", claimedBy: "e".repeat(64), instance })],
    [instance.id],
  );
  assert.deepEqual(provider.deleted, []);
  assert.deepEqual(provider.remaining(), [instance.id]);
  assert.deepEqual(store.all(), []);
});

test("a create cut off inside the cloud call: the instance its slot tag finds is adopted, or the slot forgotten", async () => {
  // The adopted VM is followed until it answers; close() must stop that too, or restartWith
  // would wait out POOL_BOOT_TIMEOUT (an hour here).
  const provider = new FakeProvider();
  const made = plantPooled(provider, "pool-a3");
  const store = await restartWith(provider, [
    slotRecord("pool-a3", { state: "creating" }),
    slotRecord("pool-a4", { state: "creating" }),
  ]);
  const adopted = store.get("pool-a3");
  assert.equal(adopted?.state, "booting");
  assert.deepEqual(adopted?.instance, made);
  assert.equal(store.get("pool-a4"), undefined);
  assert.deepEqual(provider.deleted, []);
});

test("a pooled VM that vanished while the daemon was down is forgotten; a live one is kept as it was", async () => {
  const provider = new FakeProvider();
  const live = plantPooled(provider, "pool-a5");
  const store = await restartWith(provider, [
    slotRecord("pool-a5", { instance: live }),
    slotRecord("pool-a6", { instance: { id: "mem-404", ips: ["192.0.2.99"] } }),
  ]);
  assert.deepEqual(
    store.all().map((r) => [r.slot, r.state, r.instance?.id]),
    [["pool-a5", "ready", live.id]],
  );
});
