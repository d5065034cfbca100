// Client-side token buckets per ARM request class, set to ARM's regional limits by default
// (reads 250 / 25 s⁻¹, writes 200 / 10 s⁻¹, deletes 200 / 10 s⁻¹; docs/background.md §4.7), so
// that a burst of pod VMs is paced instead of answered with 429s. Taking a token reserves it:
// requests queue in arrival order. A 429 empties the class's bucket, since Azure has just said
// that its own is empty.
import { setTimeout as sleep } from "node:timers/promises";
import { InvalidConfigError } from "../errors.ts";

export type RequestClass = "reads" | "writes" | "deletes";

export interface BucketSpec {
  capacity: number;
  refillPerSec: number;
}

export type RateLimits = Partial<Record<RequestClass, BucketSpec>>;

export function requestClass(method: string): RequestClass {
  if (method === "GET" || method === "HEAD") return "reads";
  return method === "DELETE" ? "deletes" : "writes";
}

/** `reads=250:25,writes=200:10,deletes=200:10` (capacity:refill per second); "off" or "" = no limits. */
export function parseRateLimits(text: string): RateLimits {
  const limits: RateLimits = {};
  if (text.trim() === "" || text.trim() === "off") return limits;
  for (const item of text.split(",")) {
    const m = /^\s*(reads|writes|deletes)\s*=\s*(\d+)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(item);
    if (!m || Number(m[3]) <= 0) {
      throw new InvalidConfigError(
        `AZURE_API_RATE_LIMIT: ${JSON.stringify(item)} is not <reads|writes|deletes>=<capacity>:<refill per second>`,
      );
    }
    limits[m[1] as RequestClass] = { capacity: Number(m[2]), refillPerSec: Number(m[3]) };
  }
  return limits;
}

class Bucket {
  private tokens: number;
  private last = Date.now();
  private readonly spec: BucketSpec;

  constructor(spec: BucketSpec) {
    this.spec = spec;
    this.tokens = spec.capacity;
  }

  private refill(now: number): void {
    this.tokens = Math.min(
      this.spec.capacity,
      this.tokens + ((now - this.last) / 1000) * this.spec.refillPerSec,
    );
    this.last = now;
  }

  /** Reserve one token; ms to wait before using it. */
  reserve(now = Date.now()): number {
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.spec.refillPerSec) * 1000);
  }

  drain(now = Date.now()): void {
    this.refill(now);
    this.tokens = Math.min(this.tokens, 0);
  }
}

export class ArmRateLimiter {
  private readonly buckets = new Map<RequestClass, Bucket>();

  constructor(limits: RateLimits) {
    for (const [cls, spec] of Object.entries(limits) as Array<[RequestClass, BucketSpec]>) {
      this.buckets.set(cls, new Bucket(spec));
    }
  }

  async take(method: string, signal?: AbortSignal): Promise<void> {
    const wait = this.buckets.get(requestClass(method))?.reserve() ?? 0;
    if (wait > 0) await sleep(wait, undefined, { signal });
  }

  drain(method: string): void {
    this.buckets.get(requestClass(method))?.drain();
  }
}
