// Client-side token buckets per ARM request class, set to ARM's regional limits by default
// (reads 250 / 25 s⁻¹, writes 200 / 10 s⁻¹, deletes 200 / 10 s⁻¹; docs/background.md §4.7), so that a
// burst of pod VMs is paced instead of answered with 429s. The ARM side of the cloud-call layer
// (providers/cloudapi/budget.ts): requests wait for a token in a queue that takes turns between
// sandboxes, and a 429 empties the class's bucket and holds its queue until Retry-After, since
// Azure has just said that its own bucket is empty.
import { CallBudget, type BudgetObserver } from "../cloudapi/budget.ts";
import { currentCaller } from "../cloudapi/caller.ts";
import { parseRateLimits as parseLimits, type RateLimits } from "../cloudapi/limits.ts";
import type { ApiFamilyState } from "../types.ts";

export type RequestClass = "reads" | "writes" | "deletes";
export type { RateLimits } from "../cloudapi/limits.ts";

const CLASSES: readonly RequestClass[] = ["reads", "writes", "deletes"];

export function requestClass(method: string): RequestClass {
  if (method === "GET" || method === "HEAD") return "reads";
  return method === "DELETE" ? "deletes" : "writes";
}

/** `reads=250:25,writes=200:10,deletes=200:10` (capacity:refill per second); "off" or "" = no limits. */
export function parseRateLimits(text: string): RateLimits {
  return parseLimits("AZURE_API_RATE_LIMIT", text, CLASSES);
}

export class ArmRateLimiter {
  private readonly budget: CallBudget;

  constructor(limits: RateLimits, opts: { maxWaitMs?: number; observer?: BudgetObserver } = {}) {
    this.budget = new CallBudget(limits, {
      cloud: "ARM",
      maxWaitMs: opts.maxWaitMs ?? 600_000,
      observer: opts.observer,
    });
  }

  /** Wait for a token of the method's class in this caller's turn; resolves with the ms waited. */
  take(method: string, signal?: AbortSignal, again = false): Promise<number> {
    return this.budget.acquire(requestClass(method), currentCaller(), signal, again);
  }

  /** Azure answered 429: empty the class's bucket and hold its queue (until Retry-After when told). */
  drain(method: string, retryAfterMs?: number): void {
    this.budget.throttled(requestClass(method), retryAfterMs);
  }

  succeeded(method: string): void {
    this.budget.succeeded(requestClass(method));
  }

  snapshot(): ApiFamilyState[] {
    return this.budget.snapshot();
  }

  close(): void {
    this.budget.close();
  }
}
