// The client-side budget of one provider's cloud API: a token bucket per API family (sized like
// the cloud's own, times this node's share), a queue per family that is fair across callers, and
// feedback: when the cloud throttles anyway (another node, another tool on the same account), the
// family's bucket is drained and its whole queue waits — for Retry-After when the cloud says, else
// for a penalty that doubles while throttles repeat — instead of each caller sleeping on its own.
import { ThrottledError } from "../errors.ts";
import type { ApiFamilyState } from "../types.ts";
import { abortReason } from "./caller.ts";
import { FairQueue } from "./fair-queue.ts";
import { TokenBucket, type BucketSpec } from "./token-bucket.ts";

/** Longest queue-wide hold after repeated throttles without Retry-After. */
const MAX_PENALTY_MS = 30_000;
/**
 * The cloud's bucket refills from when our calls *arrive*, ours from when they leave, and the
 * latency of one call differs from the next: each call leaves only once the bucket also holds
 * this much refill time to spare, so that a call faster than the one before it still finds its
 * token. It shifts the schedule once; the rate stays the cloud's.
 */
const LATENCY_ALLOWANCE_S = 0.05;

export interface BudgetObserver {
  /** A call got its token after waiting `ms` in the family's queue. */
  onWait?(family: string, ms: number): void;
  /** The cloud throttled a call of the family despite the bucket. */
  onThrottle?(family: string): void;
}

export interface BudgetOptions {
  /** Provider name, for error messages ("EC2", "ARM"). */
  cloud: string;
  /** A call waiting longer than this for its token fails with ThrottledError. */
  maxWaitMs: number;
  observer?: BudgetObserver;
}

interface Waiter {
  caller: string;
  enqueuedAt: number;
  resolve(waitedMs: number): void;
  reject(err: unknown): void;
  cleanup(): void;
}

class Family {
  readonly bucket: TokenBucket;
  /** Tokens the bucket must hold beyond the one taken (LATENCY_ALLOWANCE_S of refill). */
  readonly spare: number;
  readonly queue = new FairQueue<Waiter>();
  heldUntil = 0;
  penaltyMs = 0;
  throttles = 0;
  timer: NodeJS.Timeout | undefined;

  constructor(spec: BucketSpec) {
    this.bucket = new TokenBucket(spec);
    this.spare = spec.refillPerSec * LATENCY_ALLOWANCE_S;
  }
}

export class CallBudget {
  private readonly families = new Map<string, Family>();
  private readonly opts: BudgetOptions;

  constructor(limits: Readonly<Record<string, BucketSpec>>, opts: BudgetOptions) {
    this.opts = opts;
    for (const [name, spec] of Object.entries(limits)) this.families.set(name, new Family(spec));
  }

  has(family: string): boolean {
    return this.families.has(family);
  }

  /**
   * Wait for a token of `family` in `caller`'s turn; resolves with the ms waited. A family without
   * a bucket passes at once. `front`: the call was sent before and throttled, it goes ahead of
   * this caller's newer calls.
   */
  acquire(family: string, caller: string, signal?: AbortSignal, front = false): Promise<number> {
    const f = this.families.get(family);
    if (!f) return Promise.resolve(0);
    signal?.throwIfAborted();
    const now = performance.now();
    if (f.queue.length === 0 && now >= f.heldUntil && f.bucket.msUntilToken(now, f.spare) === 0) {
      f.bucket.take(now);
      this.opts.observer?.onWait?.(family, 0);
      return Promise.resolve(0);
    }
    return new Promise<number>((resolve, reject) => {
      const timeout = setTimeout(() => {
        if (!f.queue.remove(caller, waiter)) return;
        waiter.cleanup();
        reject(
          new ThrottledError(
            `${this.opts.cloud} ${family}: no request token within ${Math.round(this.opts.maxWaitMs / 1000)} s ` +
              `(${f.queue.length} calls queued); the account's API budget is exhausted`,
            { code: "ClientQueueTimeout" },
          ),
        );
        this.pump(f);
      }, this.opts.maxWaitMs);
      const onAbort = () => {
        if (!f.queue.remove(caller, waiter)) return;
        waiter.cleanup();
        reject(abortReason(signal));
        this.pump(f);
      };
      const waiter: Waiter = {
        caller,
        enqueuedAt: now,
        resolve: (ms) => {
          waiter.cleanup();
          this.opts.observer?.onWait?.(family, ms);
          resolve(ms);
        },
        reject,
        cleanup: () => {
          clearTimeout(timeout);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      f.queue.push(caller, waiter, front);
      this.pump(f);
    });
  }

  /** The cloud throttled a call of `family`: drain the bucket and hold the queue. */
  throttled(family: string, retryAfterMs?: number): void {
    const f = this.families.get(family);
    if (!f) return;
    const now = performance.now();
    f.throttles++;
    f.bucket.drain(now);
    f.penaltyMs =
      f.penaltyMs === 0 ? 1000 / f.bucket.spec.refillPerSec : Math.min(MAX_PENALTY_MS, f.penaltyMs * 2);
    f.heldUntil = Math.max(f.heldUntil, now + Math.max(retryAfterMs ?? 0, f.penaltyMs));
    this.opts.observer?.onThrottle?.(family);
    this.pump(f);
  }

  /** A call of `family` went through: the penalty starts small again. */
  succeeded(family: string): void {
    const f = this.families.get(family);
    if (f) f.penaltyMs = 0;
  }

  snapshot(): ApiFamilyState[] {
    const now = performance.now();
    return [...this.families].map(([family, f]) => ({
      family,
      capacity: f.bucket.spec.capacity,
      refillPerSec: f.bucket.spec.refillPerSec,
      tokens: Math.floor(Math.max(0, f.bucket.available(now)) * 100) / 100,
      queued: f.queue.length,
      callers: f.queue.callers,
      heldForMs: Math.max(0, Math.round(f.heldUntil - now)),
      throttles: f.throttles,
    }));
  }

  /** Fail every waiting call (the provider is closing). */
  close(): void {
    for (const f of this.families.values()) {
      clearTimeout(f.timer);
      for (const w of f.queue.drainAll()) {
        w.cleanup();
        w.reject(new ThrottledError(`${this.opts.cloud}: provider closed while the call waited for a token`));
      }
    }
  }

  private pump(f: Family): void {
    clearTimeout(f.timer);
    f.timer = undefined;
    while (f.queue.length > 0) {
      const now = performance.now();
      const wait = now < f.heldUntil ? Math.ceil(f.heldUntil - now) : f.bucket.msUntilToken(now, f.spare);
      if (wait > 0) {
        f.timer = setTimeout(() => this.pump(f), wait);
        return;
      }
      const w = f.queue.shift() as Waiter;
      f.bucket.take(now);
      w.resolve(now - w.enqueuedAt);
    }
  }
}
