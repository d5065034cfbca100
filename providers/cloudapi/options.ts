// Settings of the cloud-call layer shared by the providers (each provider adds its own
// <CLOUD>_API_RATE_LIMIT with its families and defaults).
import { bool, duration, str } from "../../src/config/options.ts";

export const cloudApiOptions = {
  rateShare: str(
    "cloud-api-rate-share",
    "CLOUD_API_RATE_SHARE",
    "1",
    "Share in (0, 1] of the account's API budget this node may use; scales every client-side bucket",
  ),
  queueTimeoutMs: duration(
    "cloud-api-queue-timeout",
    "CLOUD_API_QUEUE_TIMEOUT",
    600_000,
    "Longest time a cloud call waits for a client-side token before it fails as throttled",
  ),
  batching: bool(
    "cloud-api-batching",
    "CLOUD_API_BATCHING",
    true,
    "Batch reads and deletes of many sandboxes into one cloud call (100 ms idle, 1 s at most, 500 ids)",
  ),
};
