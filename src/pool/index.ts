// Wiring of the warm pool for `caa serve`: parse POOL_SIZE against the provider's instance types,
// open the durable records and the pool CA under STATE_DIR. With POOL_SIZE empty there is no pool,
// and pooled VMs a previous run left (the pool was on before) are deleted.
import { join } from "node:path";
import type { Provider } from "../../providers/types.ts";
import type { Resolved } from "../config/options.ts";
import type { Logger } from "../log/logger.ts";
import { PoolAuthority } from "../tls/pool-authority.ts";
import { parsePoolSize, type poolOptions } from "./options.ts";
import { WarmPool, type PoolMetrics } from "./pool.ts";
import { PoolStore } from "./store.ts";

export { WarmPool, type PoolVmView } from "./pool.ts";
export { poolOptions, parsePoolSize, poolKey } from "./options.ts";

export interface PoolWiring {
  settings: Resolved<typeof poolOptions>;
  provider: Provider;
  stateDir: string;
  cluster: string;
  node: string;
  forwarderPort: number;
  forwarderHost?: string;
  logger: Logger;
  metrics?: PoolMetrics;
  sandboxOwns(instanceId: string): boolean;
}

/** The pool, not yet started (start it after the sandboxes are recovered), or undefined when off. */
export async function createWarmPool(w: PoolWiring): Promise<WarmPool | undefined> {
  const targets = parsePoolSize(
    w.settings.poolSize,
    w.provider.defaultInstanceType(),
    w.provider.instanceTypes().map((t) => t.name),
  );
  const store = await PoolStore.open(join(w.stateDir, "pool"));
  for (const q of store.quarantined)
    w.logger.error(
      { component: "pool", ...q },
      `pool record ${q.path} could not be read (${q.reason}); moved it to ${q.movedTo}`,
    );
  if (targets.length === 0 && store.all().length === 0) return undefined;
  const pool = new WarmPool({
    provider: w.provider,
    store,
    authority: await PoolAuthority.loadOrCreate(join(w.stateDir, "pool-tls"), w.logger),
    targets,
    cluster: w.cluster,
    node: w.node,
    forwarderPort: w.forwarderPort,
    forwarderHost: w.forwarderHost,
    maxAgeMs: w.settings.poolMaxAgeMs,
    refillConcurrency: w.settings.poolRefillConcurrency,
    bootTimeoutMs: w.settings.poolBootTimeoutMs,
    logger: w.logger,
    metrics: w.metrics,
    sandboxOwns: (id) => w.sandboxOwns(id),
  });
  if (targets.length > 0) return pool;
  const deleted = await pool.drain();
  w.logger.info(
    { component: "pool", deleted },
    "POOL_SIZE is empty: deleted the pooled VMs of a previous run",
  );
  return undefined;
}
