// A token bucket as the clouds describe theirs (EC2: "token bucket per account per Region"; ARM:
// regional token buckets per principal and operation type): `capacity` tokens at most, refilled
// continuously at `refillPerSec`. Times are performance.now() milliseconds.

export interface BucketSpec {
  capacity: number;
  refillPerSec: number;
}

export class TokenBucket {
  readonly spec: BucketSpec;
  private tokens: number;
  private last: number;

  constructor(spec: BucketSpec, now = performance.now()) {
    this.spec = spec;
    this.tokens = spec.capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(
        this.spec.capacity,
        this.tokens + ((now - this.last) / 1000) * this.spec.refillPerSec,
      );
      this.last = now;
    }
  }

  available(now = performance.now()): number {
    this.refill(now);
    return this.tokens;
  }

  /** Milliseconds until a whole token and `spare` more are there (0: now). */
  msUntilToken(now = performance.now(), spare = 0): number {
    this.refill(now);
    const want = Math.min(this.spec.capacity, 1 + spare);
    return this.tokens >= want ? 0 : Math.ceil(((want - this.tokens) / this.spec.refillPerSec) * 1000);
  }

  take(now = performance.now()): void {
    this.refill(now);
    this.tokens -= 1;
  }

  /** The cloud said its bucket is empty: ours is too, whatever it counted. */
  drain(now = performance.now()): void {
    this.refill(now);
    this.tokens = Math.min(this.tokens, 0);
  }
}
