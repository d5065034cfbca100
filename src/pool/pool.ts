// The warm pool (DESIGN.md "Warm pool = a claim, not a create"): per pool key, VMs created ahead
// of any pod with generic user-data (src/userdata/pool.ts). StartVM on a hit claims one — recorded
// durably before the sandbox's record takes it — and binds it; no cloud create on that path. Refill
// (refill.ts) runs in the background through the same provider the lifecycle uses.
import type { Instance, InstanceSpec } from "../../providers/types.ts";
import { isNotFound } from "../../providers/errors.ts";
import type { Logger } from "../log/logger.ts";
import { bindPoolVm, poolVmAddress } from "./bind-client.ts";
import { poolKey } from "./options.ts";
import { Refiller, type PoolMetrics } from "./refill.ts";
import type { WarmPoolOptions } from "./pool-options.ts";
import type { PoolRecord } from "./store.ts";

export type { PoolMetrics, WarmPoolOptions };

/** A pooled VM as the admin API shows it: no key material. */
export interface PoolVmView {
  slot: string;
  key: string;
  state: PoolRecord["state"];
  name: string;
  instanceId?: string;
  ips: string[];
  createdAt: string;
  readyAt?: string;
  claimedBy?: string;
}

export class WarmPool {
  private readonly o: WarmPoolOptions;
  private readonly log: Logger;
  private readonly refiller: Refiller;

  constructor(opts: WarmPoolOptions) {
    this.o = opts;
    this.log = opts.logger.child({ component: "pool" });
    this.refiller = new Refiller(opts, this.log);
  }

  /** Recover the records of a previous run, then keep every key filled. */
  async start(): Promise<void> {
    for (const rec of this.o.store.all()) await this.recover(rec);
    this.refiller.start();
    this.log.info(
      { keys: this.o.targets.map((t) => `${poolKey(t)}=${t.min}:${t.max}`), vms: this.o.store.all().length },
      "warm pool started",
    );
  }

  async close(): Promise<void> {
    await this.refiller.stop();
  }

  /** Take a ready VM of this spec's key for a sandbox; undefined on a miss. */
  async claim(sandboxId: string, spec: InstanceSpec): Promise<Instance | undefined> {
    const key = poolKey(spec);
    const rec = this.o.store
      .all()
      .filter((r) => r.key === key && r.state === "ready" && !this.refiller.retiring.has(r.slot))
      .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))[0];
    if (!rec?.instance) {
      this.o.metrics?.poolClaim(key, false);
      this.refiller.missed(key);
      return undefined;
    }
    rec.state = "claimed";
    rec.claimedBy = sandboxId;
    await this.o.store.put(rec);
    this.o.metrics?.poolClaim(key, true);
    this.log.info(
      { sandbox: sandboxId, instance: rec.instance.id, poolKey: key },
      `claimed pooled VM ${rec.name}`,
    );
    this.refiller.kick();
    return { id: rec.instance.id, name: rec.name, ips: [...rec.instance.ips], tags: {} };
  }

  /**
   * Bind a claimed VM to its sandbox's user-data. The sandbox record holds the instance by now, so
   * the pool's record is dropped whatever happens; on failure the caller deletes the VM.
   */
  async bind(instanceId: string, userData: string, signal: AbortSignal): Promise<void> {
    const rec = this.o.store.all().find((r) => r.instance?.id === instanceId && r.state === "claimed");
    if (!rec?.instance) throw new Error(`instance ${instanceId} is not a claimed pooled VM`);
    const t0 = performance.now();
    try {
      await bindPoolVm(poolVmAddress(rec, this.o), this.o.authority, userData, {
        timeoutMs: this.o.bindTimeoutMs ?? 30_000,
        signal,
      });
      this.o.metrics?.poolBind(rec.key, performance.now() - t0, true);
    } catch (err) {
      this.o.metrics?.poolBind(rec.key, performance.now() - t0, false);
      throw err;
    } finally {
      await this.o.store.delete(rec.slot);
      this.refiller.report();
    }
  }

  list(): PoolVmView[] {
    return this.o.store.all().map((r) => ({
      slot: r.slot,
      key: r.key,
      state: r.state,
      name: r.name,
      instanceId: r.instance?.id,
      ips: [...(r.instance?.ips ?? [])],
      createdAt: r.createdAt,
      readyAt: r.readyAt,
      claimedBy: r.claimedBy,
    }));
  }

  /** For the leak collector: the pool records this instance (by id, or by its slot tag while creating). */
  owns(instance: Instance, slotTag: string | undefined): boolean {
    return this.o.store
      .all()
      .some((r) => r.instance?.id === instance.id || (slotTag !== undefined && r.slot === slotTag));
  }

  /** Delete every unclaimed pooled VM (uninstall, or the pool turned off). */
  async drain(): Promise<number> {
    await this.refiller.stop();
    let n = 0;
    for (const rec of this.o.store.all()) {
      if (rec.state === "claimed") continue;
      if (await this.refiller.remove(rec, "drained")) n++;
    }
    return n;
  }

  private async recover(rec: PoolRecord): Promise<void> {
    const { provider, store } = this.o;
    if (rec.state === "claimed") {
      // Cut off between the claim and the bind: the sandbox that took it finishes or undoes it.
      if (rec.instance && this.o.sandboxOwns(rec.instance.id)) await store.delete(rec.slot);
      else await this.refiller.remove(rec, "claim interrupted before its sandbox recorded it");
      return;
    }
    if (!rec.instance) {
      // Cut off inside the cloud call: the instance, if any, carries the slot's tag.
      const found = await provider
        .list({ cluster: this.o.cluster, sandboxId: rec.slot })
        .catch(() => undefined);
      if (found === undefined) return;
      if (found.length === 0) {
        await store.delete(rec.slot);
        return;
      }
      rec.instance = { id: found[0].id, ips: found[0].ips };
      rec.state = "booting";
      await store.put(rec);
    }
    try {
      await provider.get(rec.instance.id);
    } catch (err) {
      if (isNotFound(err)) {
        this.log.warn(
          { instance: rec.instance.id, slot: rec.slot },
          "pooled VM vanished while the daemon was down",
        );
        await store.delete(rec.slot);
      }
      return;
    }
    if (rec.state === "booting") this.refiller.awaitBoot(rec);
  }
}
