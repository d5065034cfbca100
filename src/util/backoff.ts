// The one retry/backoff loop of the project: the agent dial (src/agentproxy/dial.ts), every EC2
// call (providers/aws/retry.ts) and every ARM request (providers/azure/arm-retry.ts) run through
// it, so a cloud-call budget or a metric wraps one place. Exponential backoff, capped, with jitter;
// a failure may carry a retry-after hint (ARM's Retry-After) that replaces the computed delay, and
// time a call spent queued for a client-side token (the cloud-call layer) is not held against it.
import { setTimeout as sleep } from "node:timers/promises";

export interface Backoff {
  /** Attempts in all, the first included; Infinity keeps trying until the signal fires. */
  attempts: number;
  /** Delay before the second attempt; doubles per attempt. */
  baseMs: number;
  /** Cap of one computed delay. */
  capMs: number;
  /**
   * "full": uniform in [0, min(cap, base·2^(n-1))] (AWS's advice for throttling); a number: that
   * computed delay plus up to this many ms (upstream's retry-go dial loop).
   */
  jitter: "full" | number;
  /** No retry starts later than this many ms after the first attempt. */
  budgetMs?: number;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
}

/** What to do after a failed attempt. */
export interface RetryDecision {
  retry: boolean;
  /** The server said when to come back (ms): wait that long instead of the computed delay. */
  afterMs?: number;
  /** False when this failure does not use up an attempt (ARM 429s count only against the budget). */
  counts?: boolean;
  /**
   * The next attempt waits by itself, in a client-side queue held for the delay (the cloud-call
   * layer, providers/cloudapi/budget.ts): the delay is checked against the budget but not slept.
   */
  queued?: boolean;
}

export interface RetryOptions {
  signal?: AbortSignal;
  /** Decide per failure; every failure is retried when absent. */
  decide?(err: unknown, attempt: number): RetryDecision | boolean;
  /** Before sleeping for the next attempt. */
  onRetry?(info: { err: unknown; attempt: number; delayMs: number }): void;
  /** When giving up, with the attempts made; the error is then thrown as it is. */
  onGiveUp?(info: { err: unknown; attempts: number }): void;
  /**
   * Time so far (ms) that does not count against `budgetMs`: waits in a client-side cloud-call
   * queue (providers/cloudapi/budget.ts), which paces the attempts instead of the backoff.
   */
  excludedMs?(): number;
}

/** The computed delay after attempt `attempt` (1-based) failed. */
export function backoffDelay(b: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(b.capMs, b.baseMs * 2 ** (attempt - 1));
  return b.jitter === "full" ? Math.floor(random() * ceiling) : ceiling + random() * b.jitter;
}

/** A retry-after hint plus a little spread, so requests held back together do not return together. */
export function hintedDelay(afterMs: number, random: () => number = Math.random): number {
  return afterMs + Math.floor(random() * Math.min(1000, afterMs / 10 + 1));
}

/**
 * Run `attempt` until it succeeds, a failure is not retryable, the attempts or the budget are used
 * up, or `signal` fires (the attempt's own error is thrown then, or the signal's reason when it
 * fires during a sleep).
 */
export async function retry<T>(
  attempt: (n: number, signal: AbortSignal | undefined) => Promise<T>,
  b: Backoff,
  opts: RetryOptions = {},
): Promise<T> {
  const random = b.random ?? Math.random;
  const started = Date.now();
  let counted = 0;
  for (let n = 1; ; n++) {
    opts.signal?.throwIfAborted();
    try {
      return await attempt(n, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const raw = opts.decide ? opts.decide(err, n) : true;
      const decision: RetryDecision = typeof raw === "boolean" ? { retry: raw } : raw;
      if (decision.counts !== false) counted++;
      const delayMs =
        decision.afterMs !== undefined ? hintedDelay(decision.afterMs, random) : backoffDelay(b, n, random);
      const spent = Date.now() - started - (opts.excludedMs?.() ?? 0);
      const overBudget = b.budgetMs !== undefined && spent + delayMs > b.budgetMs;
      if (!decision.retry || counted >= b.attempts || overBudget) {
        opts.onGiveUp?.({ err, attempts: n });
        throw err;
      }
      opts.onRetry?.({ err, attempt: n, delayMs });
      if (decision.queued) continue;
      await sleep(delayMs, undefined, { signal: opts.signal }).catch(() => {
        throw opts.signal?.reason;
      });
    }
  }
}
