// Bucket settings as text, one syntax for every provider: `<family>=<capacity>:<refill per second>`
// items separated by commas (AWS_API_RATE_LIMIT, AZURE_API_RATE_LIMIT), "off" or "" for none; and
// the share of the account's budget one node may use (CLOUD_API_RATE_SHARE), which scales every
// bucket so that the nodes of a cluster together stay within the cloud's limits
// (docs/cloud-api-budgets.md).
import { InvalidConfigError } from "../errors.ts";
import type { BucketSpec } from "./token-bucket.ts";

export type RateLimits = Record<string, BucketSpec>;

export function parseRateLimits(setting: string, text: string, families: readonly string[]): RateLimits {
  const limits: RateLimits = {};
  if (text.trim() === "" || text.trim() === "off") return limits;
  for (const item of text.split(",")) {
    const m = /^\s*([A-Za-z][\w-]*)\s*=\s*(\d+)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(item);
    if (!m || !families.includes(m[1]) || Number(m[2]) < 1 || Number(m[3]) <= 0) {
      throw new InvalidConfigError(
        `${setting}: ${JSON.stringify(item.trim())} is not <family>=<capacity>:<refill per second> ` +
          `with capacity ≥ 1, refill > 0 and a family of ${families.join(", ")}`,
        { code: "InvalidRateLimit" },
      );
    }
    limits[m[1]] = { capacity: Number(m[2]), refillPerSec: Number(m[3]) };
  }
  return limits;
}

/** "0.25" → 0.25; a share outside (0, 1] is refused. */
export function parseShare(text: string): number {
  const share = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(share) || share <= 0 || share > 1)
    throw new InvalidConfigError(
      `CLOUD_API_RATE_SHARE: ${JSON.stringify(text)} is not a number in (0, 1] (this node's share of the account's API budget)`,
      { code: "InvalidRateShare" },
    );
  return share;
}

/** Every bucket times `share`: refill scaled exactly, capacity rounded down but at least 1. */
export function scaleLimits(limits: RateLimits, share: number): RateLimits {
  const out: RateLimits = {};
  for (const [name, spec] of Object.entries(limits)) {
    out[name] = {
      capacity: Math.max(1, Math.floor(spec.capacity * share)),
      refillPerSec: spec.refillPerSec * share,
    };
  }
  return out;
}
