// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics
// (k8s.io/client-go tools/leaderelection/leaderelection.go tryAcquireOrRenew, resourcelock/leaselock.go):
// - a candidate reads the Lease; missing, it creates it holding it;
// - another holder's Lease counts as held until leaseDurationSeconds have passed on *our* clock
//   since we last saw its record change (renewTime is not compared across clocks);
// - acquiring or renewing is an update carrying the resourceVersion we read, so of two candidates
//   racing only one succeeds (the other gets 409 Conflict);
// - taking over increments leaseTransitions and sets acquireTime; release empties holderIdentity;
// - a holder whose renewals fail stops acting as leader after the renew deadline (2/3 of the
//   duration, client-go's 10 s of 15 s), before any other candidate may take over.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.ts";
import { apiError, isStatus } from "./api-error.ts";

export interface LeaseElectorOptions {
  coordination: CoordinationV1Api;
  namespace: string;
  name: string;
  /** This candidate's identity (holderIdentity). */
  identity: string;
  leaseDurationSeconds: number;
  logger: Logger;
  /** Clock in ms (tests). */
  now?: () => number;
}

export class LeaseElector {
  private readonly opts: LeaseElectorOptions;
  private readonly now: () => number;
  private readonly log: Logger;
  /** The record last read and when (our clock) it was first seen in that shape. */
  private observed?: { key: string; at: number };
  /** Until when (our clock) we act as leader: the last successful renew plus the renew deadline. */
  private heldUntil = 0;

  constructor(opts: LeaseElectorOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: "lease", lease: `${opts.namespace}/${opts.name}` });
  }

  /** True while the last acquire/renew is younger than the renew deadline. */
  isLeader(): boolean {
    return this.now() < this.heldUntil;
  }

  /** One acquire-or-renew attempt; true when this candidate holds the lease afterwards. Never throws. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { coordination, namespace, name, identity, leaseDurationSeconds } = this.opts;
    const now = this.now();
    const wasLeader = this.heldUntil > 0;
    try {
      let lease: V1Lease;
      try {
        lease = await coordination.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
        await coordination.createNamespacedLease({
          namespace,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds,
              acquireTime: new V1MicroTime(now),
              renewTime: new V1MicroTime(now),
              leaseTransitions: 0,
            },
          },
        });
        return this.won(now, wasLeader);
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const key = `${holder}|${String(spec.renewTime)}|${spec.leaseDurationSeconds}`;
      if (this.observed?.key !== key) this.observed = { key, at: now };
      const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if (holder !== "" && holder !== identity && now < this.observed.at + duration) return this.lost(holder);
      const takingOver = holder !== identity;
      await coordination.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds,
            renewTime: new V1MicroTime(now),
            acquireTime: takingOver ? new V1MicroTime(now) : spec.acquireTime,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver && holder !== "" ? 1 : 0),
          },
        },
      });
      return this.won(now, wasLeader);
    } catch (err) {
      // 409: another candidate wrote the Lease first. Anything else: keep what we hold until the
      // renew deadline and try again next period.
      if (isStatus(err, 409)) return this.lost("(conflict)");
      this.log.warn({ api: apiError(err) }, "lease acquire/renew failed");
      if (!this.isLeader()) return this.lost();
      return true;
    }
  }

  /** Give the lease up (shutdown) so another candidate takes over without waiting. Never throws. */
  async release(): Promise<void> {
    if (!this.isLeader()) return;
    const { coordination, namespace, name, identity } = this.opts;
    this.heldUntil = 0;
    try {
      const lease = await coordination.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await coordination.replaceNamespacedLease({
        name,
        namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 } },
      });
      this.log.info({ identity }, "released the lease");
    } catch (err) {
      this.log.warn({ api: apiError(err) }, "could not release the lease");
    }
  }

  private won(now: number, wasLeader: boolean): boolean {
    this.heldUntil = now + (this.opts.leaseDurationSeconds * 1000 * 2) / 3;
    if (!wasLeader) this.log.info({ identity: this.opts.identity }, "acquired the lease");
    return true;
  }

  private lost(holder?: string): boolean {
    if (this.heldUntil > 0) this.log.warn({ identity: this.opts.identity, holder }, "lost the lease");
    this.heldUntil = 0;
    return false;
  }
}
