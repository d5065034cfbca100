// A memory of what the cloud cannot give right now. An offering (instance type, and zone when the
// provider names one) that failed for lack of capacity — EC2 InsufficientInstanceCapacity, ARM
// SkuNotAvailable / AllocationFailed / ZonalAllocationFailed — is skipped by every following
// sandbox's capacity fallback until the entry expires, so the next type is tried at once instead
// of each pod rediscovering the failure with a call from a scarce bucket (RunInstances: 5, refill
// 2 s⁻¹). Karpenter keeps the same cache for 3 minutes (aws/karpenter-provider-aws
// pkg/cache/unavailableofferings.go; docs/background.md).

export const DEFAULT_UNAVAILABLE_TTL_MS = 3 * 60_000;

export interface UnavailableOffering {
  instanceType: string;
  /** "" when the provider does not say (one subnet or region per daemon). */
  zone: string;
  /** The cloud's error code that marked it. */
  code: string;
  markedAt: string;
  expiresInMs: number;
  /** Creates that skipped it since it was marked. */
  skips: number;
}

interface Entry {
  instanceType: string;
  zone: string;
  code: string;
  markedAt: number;
  skips: number;
}

export class UnavailableOfferings {
  readonly ttlMs: number;
  private readonly now: () => number;
  private readonly entries_ = new Map<string, Entry>();
  /** Skips since start, over all entries (for a counter metric). */
  skipped = 0;

  constructor(opts: { ttlMs?: number; now?: () => number } = {}) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_UNAVAILABLE_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  private static key(instanceType: string, zone: string): string {
    return `${instanceType.toLowerCase()}\u0000${zone}`;
  }

  mark(instanceType: string, code: string, zone = ""): void {
    if (this.ttlMs <= 0) return;
    this.entries_.set(UnavailableOfferings.key(instanceType, zone), {
      instanceType,
      zone,
      code,
      markedAt: this.now(),
      skips: 0,
    });
  }

  private fresh(instanceType: string, zone: string): Entry | undefined {
    const key = UnavailableOfferings.key(instanceType, zone);
    const e = this.entries_.get(key);
    if (e && this.now() - e.markedAt >= this.ttlMs) {
      this.entries_.delete(key);
      return undefined;
    }
    return e;
  }

  /** The entry's code when the offering is marked and fresh (and counts the skip), else undefined. */
  skip(instanceType: string, zone = ""): string | undefined {
    const e = this.fresh(instanceType, zone);
    if (!e) return undefined;
    e.skips++;
    this.skipped++;
    return e.code;
  }

  list(): UnavailableOffering[] {
    const now = this.now();
    const out: UnavailableOffering[] = [];
    for (const e of [...this.entries_.values()]) {
      if (!this.fresh(e.instanceType, e.zone)) continue;
      out.push({
        instanceType: e.instanceType,
        zone: e.zone,
        code: e.code,
        markedAt: new Date(e.markedAt).toISOString(),
        expiresInMs: Math.max(0, e.markedAt + this.ttlMs - now),
        skips: e.skips,
      });
    }
    return out;
  }
}
