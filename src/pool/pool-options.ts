// What the warm pool is built from; its own file so that the pool and its refiller share it
// without importing each other.
import type { Provider } from "../../providers/types.ts";
import type { Logger } from "../log/logger.ts";
import type { PoolAuthority } from "../tls/pool-authority.ts";
import type { PoolTarget } from "./options.ts";
import type { PoolStore } from "./store.ts";

export interface WarmPoolOptions {
  provider: Provider;
  store: PoolStore;
  authority: PoolAuthority;
  targets: PoolTarget[];
  cluster: string;
  node: string;
  forwarderPort: number;
  /** FORWARDER_HOST: dial this instead of a pooled VM's IP when set. */
  forwarderHost?: string;
  maxAgeMs: number;
  refillConcurrency: number;
  bootTimeoutMs: number;
  logger: Logger;
  metrics?: PoolMetrics;
  /** True when a sandbox record holds this instance (a claim that completed before a restart). */
  sandboxOwns(instanceId: string): boolean;
  /** Readiness probe and refill tick periods (tests shorten them). */
  probeIntervalMs?: number;
  tickMs?: number;
  bindTimeoutMs?: number;
}

export interface PoolMetrics {
  poolClaim(key: string, hit: boolean): void;
  poolBind(key: string, ms: number, ok: boolean): void;
  /** Current VMs per key and state, and the age of the oldest unclaimed one. */
  poolState(
    key: string,
    counts: Record<"creating" | "booting" | "ready", number>,
    oldestSeconds: number,
  ): void;
}
