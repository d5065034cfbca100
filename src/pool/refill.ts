// Keeping the pool full: create pooled VMs up to each key's target, wait until each answers
// unbound, recycle those past POOL_MAX_AGE. Every create is recorded before the cloud call (by its
// slot, which the instance carries as its sandbox-id tag) and after it, so nothing it makes can
// be lost; a VM that fails to come up is deleted.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PartialCreateError, ProviderError } from "../../providers/errors.ts";
import type { Logger } from "../log/logger.ts";
import { bootstrapFingerprint, renderPoolUserData } from "../userdata/pool.ts";
import { poolVmAddress, probePoolVm } from "./bind-client.ts";
import { poolKey, type PoolTarget } from "./options.ts";
import type { PoolMetrics, WarmPoolOptions } from "./pool-options.ts";

export type { PoolMetrics };
import type { PoolRecord } from "./store.ts";

/** Misses this recent raise a key's target above its minimum (up to its maximum). */
const DEMAND_WINDOW_MS = 10 * 60_000;

export class Refiller {
  private readonly o: WarmPoolOptions;
  private readonly log: Logger;
  /** Slots being deleted: not claimable. */
  readonly retiring = new Set<string>();
  private readonly creating = new Set<Promise<void>>();
  private readonly misses = new Map<string, number[]>();
  private readonly retryAt = new Map<string, { at: number; failures: number }>();
  private abort = new AbortController();
  private timer?: NodeJS.Timeout;

  constructor(opts: WarmPoolOptions, log: Logger) {
    this.o = opts;
    this.log = log;
  }

  start(): void {
    // Boots followed since recovery (awaitBoot) hold this signal: stop() must reach them too.
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.timer = setInterval(() => this.kick(), this.o.tickMs ?? 5000);
    this.timer.unref();
    this.kick();
  }

  /** Stop creating; VMs in flight are recorded and picked up by the next start. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await Promise.allSettled([...this.creating]);
  }

  missed(key: string): void {
    const now = Date.now();
    this.misses.set(key, [...(this.misses.get(key) ?? []).filter((t) => now - t < DEMAND_WINDOW_MS), now]);
    this.kick();
  }

  /** Recycle old VMs and start creates where a key is short; returns at once. */
  kick(): void {
    if (this.abort.signal.aborted) return;
    this.recycle();
    for (const target of this.o.targets) {
      const key = poolKey(target);
      const retry = this.retryAt.get(key);
      if (retry && Date.now() < retry.at) continue;
      let short = this.targetOf(target) - this.unclaimed(key).length;
      while (short-- > 0 && this.creating.size < Math.max(1, this.o.refillConcurrency)) {
        const p: Promise<void> = this.createOne(target).finally(() => {
          this.creating.delete(p);
          this.kick();
        });
        this.creating.add(p);
      }
    }
    this.report();
  }

  report(): void {
    const now = Date.now();
    for (const target of this.o.targets) {
      const key = poolKey(target);
      const counts = { creating: 0, booting: 0, ready: 0 };
      let oldest = 0;
      for (const r of this.unclaimed(key)) {
        counts[r.state as keyof typeof counts]++;
        oldest = Math.max(oldest, (now - Date.parse(r.createdAt)) / 1000);
      }
      this.o.metrics?.poolState(key, counts, oldest);
    }
  }

  /** Follow a VM (new, or booting before a restart) until it answers unbound; delete it if it never does. */
  awaitBoot(rec: PoolRecord): void {
    const p: Promise<void> = this.waitReady(rec).finally(() => this.creating.delete(p));
    this.creating.add(p);
  }

  /** Delete a pooled VM and its record; false when the cloud refused (the record stays for a retry). */
  async remove(rec: PoolRecord, why: string): Promise<boolean> {
    this.retiring.add(rec.slot);
    try {
      if (rec.instance) await this.o.provider.delete(rec.instance.id);
      await this.o.store.delete(rec.slot);
      this.log.info({ slot: rec.slot, instance: rec.instance?.id, why }, `deleted pooled VM ${rec.name}`);
      return true;
    } catch (err) {
      this.log.error(
        { slot: rec.slot, instance: rec.instance?.id, err: messageOf(err) },
        "deleting a pooled VM failed",
      );
      return false;
    } finally {
      this.retiring.delete(rec.slot);
      this.report();
    }
  }

  private targetOf(t: PoolTarget): number {
    const recent = (this.misses.get(poolKey(t)) ?? []).filter((at) => Date.now() - at < DEMAND_WINDOW_MS);
    return Math.min(t.max, t.min + recent.length);
  }

  private unclaimed(key: string): PoolRecord[] {
    return this.o.store
      .all()
      .filter((r) => r.key === key && r.state !== "claimed" && !this.retiring.has(r.slot));
  }

  private recycle(): void {
    if (this.o.maxAgeMs <= 0) return;
    const now = Date.now();
    for (const r of this.o.store.all())
      if (
        r.state === "ready" &&
        !this.retiring.has(r.slot) &&
        now - Date.parse(r.createdAt) > this.o.maxAgeMs
      )
        void this.remove(r, "older than POOL_MAX_AGE");
  }

  private async createOne(target: PoolTarget): Promise<void> {
    const { provider, store, authority } = this.o;
    const key = poolKey(target);
    const hex = randomBytes(6).toString("hex");
    const name = `podvm-pool-${hex}`;
    const boot = await authority.issueBootstrap(name);
    const rec: PoolRecord = {
      slot: `pool-${hex}`,
      key,
      instanceType: target.instanceType,
      image: target.image,
      name,
      fingerprint: bootstrapFingerprint(boot.certPem),
      state: "creating",
      createdAt: new Date().toISOString(),
    };
    await store.put(rec);
    const size = provider.instanceTypes().find((t) => t.name === target.instanceType);
    try {
      const instance = await provider.create(
        {
          name,
          userData: renderPoolUserData({
            "pool-ca": authority.caCertPem,
            "bootstrap-cert": boot.certPem,
            "bootstrap-key": boot.keyPem,
          }),
          spec: {
            instanceType: target.instanceType,
            image: target.image,
            vcpus: size?.vcpus ?? 0,
            memoryMiB: size?.memoryMiB ?? 0,
            gpus: size?.gpus ?? 0,
          },
          owner: {
            cluster: this.o.cluster,
            node: this.o.node,
            sandboxId: rec.slot,
            podName: "",
            podNamespace: "",
            role: "pool",
          },
        },
        this.abort.signal,
      );
      rec.instance = { id: instance.id, ips: instance.ips };
      rec.state = "booting";
      await store.put(rec);
      this.retryAt.delete(key);
    } catch (err) {
      if (err instanceof PartialCreateError) rec.instance = { id: err.instance.id, ips: err.instance.ips };
      const failures = (this.retryAt.get(key)?.failures ?? 0) + 1;
      this.retryAt.set(key, { at: Date.now() + Math.min(300_000, 5000 * 2 ** (failures - 1)), failures });
      this.log.warn(
        {
          // "key" would be redacted as a secret by the logger.
          poolKey: key,
          slot: rec.slot,
          code: err instanceof ProviderError ? err.code : undefined,
          err: messageOf(err),
        },
        "creating a pooled VM failed",
      );
      await this.remove(rec, "create failed");
      return;
    }
    await this.waitReady(rec);
  }

  private async waitReady(rec: PoolRecord): Promise<void> {
    const deadline = Date.parse(rec.createdAt) + this.o.bootTimeoutMs;
    const vm = poolVmAddress(rec, this.o);
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const status = await probePoolVm(vm, this.o.authority, 5000);
        if (status.state !== "unbound") {
          await this.remove(rec, `answered ${status.state}, not unbound`);
          return;
        }
        // Claimable (and shown ready) only once that is on disk.
        await this.o.store.put({ ...rec, state: "ready", readyAt: new Date().toISOString() });
        this.log.info(
          { slot: rec.slot, instance: rec.instance?.id, poolKey: rec.key },
          `pooled VM ${rec.name} is ready`,
        );
        this.report();
        return;
      } catch {
        if (Date.now() > deadline) {
          await this.remove(rec, "did not answer within POOL_BOOT_TIMEOUT");
          return;
        }
      }
      await sleep(this.o.probeIntervalMs ?? 1000, undefined, { signal }).catch(() => undefined);
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
