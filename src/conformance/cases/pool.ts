// The warm pool (docs/warm-pool.md) on this provider: the daemon's own pool code creates a pooled
// instance, which must come back with generic user-data (the pool bootstrap, nothing of any pod)
// and the owner tags plus peerpod-role=pool; the leak collector keeps it while the pool records it
// and deletes it once nobody does. Nothing answers on the instance, so the pool's readiness probe
// is pointed at a local listener that hangs up: no probe leaves this host.
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { OWNER_TAG_KEYS, type Instance } from "../../../providers/types.ts";
import { LeakCollector } from "../../leak/collector.ts";
import { silentLogger } from "../../log/logger.ts";
import type { SandboxSource } from "../../ops/sandbox-view.ts";
import { WarmPool } from "../../pool/pool.ts";
import { PoolStore } from "../../pool/store.ts";
import { PoolAuthority } from "../../tls/pool-authority.ts";
import { POOL_PATHS } from "../../userdata/pool.ts";
import type { CaseContext, ConformanceCase } from "../types.ts";
import { waitFor, waitUntilGone } from "./instances.ts";

const NODE = "conformance-pool";

const NO_SANDBOXES: SandboxSource = {
  list: () => [],
  get: () => undefined,
  ownsInstance: () => false,
  inFlightSandboxIds: () => new Set(),
};

async function hangUpListener(): Promise<net.Server> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function checkPooled(inst: Instance, slot: string, userData: string | undefined): void {
  const tags = inst.tags;
  const wrong = [
    [OWNER_TAG_KEYS.role, "pool"],
    [OWNER_TAG_KEYS.sandboxId, slot],
    [OWNER_TAG_KEYS.node, NODE],
  ].filter(([key, want]) => tags[key] !== want);
  if (wrong.length > 0)
    throw new Error(
      `pooled instance ${inst.id} has ${wrong.map(([k]) => `${k}=${tags[k] ?? "(absent)"}`).join(", ")}; ` +
        `expected ${wrong.map(([k, v]) => `${k}=${v}`).join(", ")} (the leak collector and restarts find pooled VMs by them)`,
    );
  if (userData === undefined) return;
  if (!userData.includes(`path: ${POOL_PATHS.bootstrap}`) || /apf\.json|auth\.json|initdata/.test(userData))
    throw new Error(
      `pooled instance ${inst.id} holds other user-data than the pool bootstrap: ${JSON.stringify(userData.slice(0, 120))}`,
    );
}

async function runPoolCase(ctx: CaseContext, dir: string, probe: net.Server): Promise<string> {
  const { provider } = ctx;
  const store = await PoolStore.open(path.join(dir, "pool"));
  const pool = new WarmPool({
    provider,
    store,
    authority: await PoolAuthority.loadOrCreate(path.join(dir, "pool-tls")),
    targets: [{ instanceType: provider.defaultInstanceType(), image: "", min: 1, max: 1 }],
    cluster: ctx.cluster,
    node: NODE,
    forwarderHost: "127.0.0.1",
    forwarderPort: (probe.address() as net.AddressInfo).port,
    maxAgeMs: 0,
    refillConcurrency: 1,
    bootTimeoutMs: 24 * 3600_000,
    logger: silentLogger(),
    sandboxOwns: () => false,
    tickMs: 3600_000,
  });
  ctx.step("the pool creates one pooled instance");
  await pool.start();
  let rec = store.all()[0];
  try {
    await waitFor(
      ctx,
      async () => (rec = store.all()[0])?.instance !== undefined,
      () => `the pool's create of ${rec?.name ?? "its instance"} did not return`,
    );
  } finally {
    await pool.close();
  }
  const inst = await provider.get(rec.instance!.id, ctx.signal);
  ctx.created.set(inst.id, inst);
  checkPooled(inst, rec.slot, await provider.readUserData?.(inst.id, ctx.signal));

  const collector = new LeakCollector({
    provider,
    source: NO_SANDBOXES,
    cluster: ctx.cluster,
    node: NODE,
    graceMs: 0,
    logger: silentLogger(),
    pool,
  });
  const kept = await collector.runOnce();
  if (kept.removed.length > 0)
    throw new Error(
      `the leak collector deleted ${kept.removed.join(", ")} while the pool recorded ${inst.id}: a recorded pooled VM is not a leak`,
    );
  ctx.step(`${inst.id} kept while recorded; forgetting its record`);
  await store.delete(rec.slot);
  const collected = await collector.runOnce();
  if (collected.removed.length !== 1 || collected.removed[0] !== inst.id)
    throw new Error(
      `with no record of ${inst.id} the leak collector removed ${collected.removed.join(", ") || "nothing"}; expected exactly ${inst.id}`,
    );
  await waitUntilGone(ctx, inst.id);
  return `${inst.id} created with the pool bootstrap and peerpod-role=pool; kept while recorded, collected once not`;
}

export const poolCase: ConformanceCase = {
  id: "pool",
  title: "pooled instances: generic user-data, the pool role, kept while recorded, collected once not",
  needs: ["start", "list", "delete"],
  async run(ctx) {
    const dir = await mkdtemp(path.join(tmpdir(), "caa-conformance-pool-"));
    const probe = await hangUpListener();
    try {
      return await runPoolCase(ctx, dir, probe);
    } finally {
      probe.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
