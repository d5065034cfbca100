// ARM-style token buckets per request class (reads / writes / deletes, docs/background.md §4.7):
// an empty bucket answers 429 with Retry-After = whole seconds until the next token.
import type { RequestClass } from "./types.ts";

export function requestClass(method: string): RequestClass {
  if (method === "GET" || method === "HEAD") return "reads";
  return method === "DELETE" ? "deletes" : "writes";
}

export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private readonly capacity: number;
  private readonly refillPerSec: number;

  constructor(capacity: number, refillPerSec: number) {
    this.capacity = capacity;
    this.refillPerSec = refillPerSec;
    this.tokens = capacity;
  }

  /** Take one token; undefined when taken, else the seconds until one is available. */
  take(now = Date.now()): number | undefined {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.refillPerSec);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / this.refillPerSec));
  }

  remaining(): number {
    return Math.floor(this.tokens);
  }
}

export const THROTTLED_MESSAGE =
  "The request is being throttled as the limit has been reached for this operation type. For more information, see - https://aka.ms/srpthrottlinglimits";
