// Settings of the warm pool (no upstream equivalent; names are ours). Off unless POOL_SIZE names
// at least one key, for every provider: a pooled VM costs money while it waits.
import { ConfigError, duration, int, str } from "../config/options.ts";

export const poolOptions = {
  poolSize: str(
    "pool-size",
    "POOL_SIZE",
    "",
    "Warm VMs kept per pool key: `N`, `MIN:MAX` (default type and image) or `TYPE[@IMAGE]=MIN[:MAX],…`; empty = no pool",
  ),
  poolMaxAgeMs: duration(
    "pool-max-age",
    "POOL_MAX_AGE",
    0,
    "Unclaimed pooled VMs older than this are deleted and replaced (0 = never)",
  ),
  poolRefillConcurrency: int(
    "pool-refill-concurrency",
    "POOL_REFILL_CONCURRENCY",
    2,
    "Pooled VMs created at once, across keys",
  ),
  poolBootTimeoutMs: duration(
    "pool-boot-timeout",
    "POOL_BOOT_TIMEOUT",
    600_000,
    "How long a new pooled VM may take to answer before it is deleted",
  ),
};

/** One pool key's size: `min` VMs kept ready; up to `max` while recent misses show demand. */
export interface PoolTarget {
  instanceType: string;
  /** "" = the provider's configured image. */
  image: string;
  min: number;
  max: number;
}

const ENTRY_RE = /^(?:([A-Za-z0-9_.:/-]+?)(?:@([^=,@\s]+))?=)?(\d+)(?::(\d+))?$/;

/**
 * Parse POOL_SIZE. A bare size applies to the default instance type and image. Keys are checked
 * against the allowed instance types, so a typo is a start-up error rather than a pool that never hits.
 */
export function parsePoolSize(text: string, defaultType: string, allowed: readonly string[]): PoolTarget[] {
  const out: PoolTarget[] = [];
  for (const raw of text.split(",").map((s) => s.trim())) {
    if (raw === "") continue;
    const m = ENTRY_RE.exec(raw);
    if (!m)
      throw new ConfigError(
        `POOL_SIZE entry ${JSON.stringify(raw)}: expected N, MIN:MAX or TYPE[@IMAGE]=MIN[:MAX]`,
      );
    const instanceType = m[1] ?? defaultType;
    const min = Number(m[3]);
    const max = m[4] !== undefined ? Number(m[4]) : min;
    if (max < min) throw new ConfigError(`POOL_SIZE entry ${JSON.stringify(raw)}: MAX is below MIN`);
    if (max > 1000) throw new ConfigError(`POOL_SIZE entry ${JSON.stringify(raw)}: at most 1000 VMs per key`);
    if (!allowed.includes(instanceType))
      throw new ConfigError(
        `POOL_SIZE entry ${JSON.stringify(raw)}: instance type ${instanceType} is not allowed (${allowed.join(", ")})`,
      );
    const target = { instanceType, image: m[2] ?? "", min, max };
    if (out.some((t) => poolKey(t) === poolKey(target)))
      throw new ConfigError(`POOL_SIZE names ${poolKey(target)} twice`);
    if (max > 0) out.push(target);
  }
  return out;
}

/**
 * What makes two VMs interchangeable: everything the provider fixes at launch. Our providers fix
 * the instance type and the image; the rest of a pod (network, TLS, initdata, pull secrets) is bound late.
 */
export function poolKey(spec: { instanceType: string; image: string }): string {
  return spec.image === "" ? spec.instanceType : `${spec.instanceType}@${spec.image}`;
}
