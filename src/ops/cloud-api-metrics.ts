// Metrics of the cloud-call layer and the unavailable-offerings cache: how long calls wait for a
// client-side token, how many wait now, the tokens left, and what is skipped for lack of capacity.
import { Gauge, Histogram, type Registry } from "prom-client";
import type { ApiFamilyState } from "../../providers/types.ts";
import type { UnavailableOffering } from "../capacity/unavailable-offerings.ts";

// A RunInstances queue of 300 at 2 s⁻¹ waits 150 s: token waits reach minutes.
const WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export class CloudApiMetrics {
  private readonly queueWait: Histogram<"provider" | "family">;
  private readonly queueLength: Gauge<"family">;
  private readonly tokens: Gauge<"family">;
  private readonly throttles: Gauge<"family">;
  private readonly unavailable: Gauge<"instance_type" | "zone" | "code">;
  private readonly skips: Gauge;

  constructor(registers: Registry[]) {
    this.queueWait = new Histogram({
      name: "caa_cloud_api_queue_wait_seconds",
      help: "Time a cloud API call waited in its family's queue for a client-side token",
      labelNames: ["provider", "family"],
      buckets: WAIT_BUCKETS,
      registers,
    });
    this.queueLength = new Gauge({
      name: "caa_cloud_api_queue_length",
      help: "Cloud API calls waiting for a client-side token, by API family",
      labelNames: ["family"],
      registers,
    });
    this.tokens = new Gauge({
      name: "caa_cloud_api_bucket_tokens",
      help: "Tokens left in the client-side bucket of each API family",
      labelNames: ["family"],
      registers,
    });
    this.throttles = new Gauge({
      name: "caa_cloud_api_family_throttles",
      help: "Throttled answers the cloud gave despite the client-side bucket, since start",
      labelNames: ["family"],
      registers,
    });
    this.unavailable = new Gauge({
      name: "caa_unavailable_offerings",
      help: "Instance types (and zones) skipped for lack of capacity until their entry expires",
      labelNames: ["instance_type", "zone", "code"],
      registers,
    });
    this.skips = new Gauge({
      name: "caa_unavailable_offering_skips",
      help: "Times a create skipped an instance type that had no capacity a moment ago, since start",
      registers,
    });
  }

  observeWait(provider: string, family: string, ms: number): void {
    this.queueWait.observe({ provider, family }, ms / 1000);
  }

  /** The families and the cache as they stand (called at scrape). */
  set(families: readonly ApiFamilyState[], offerings: readonly UnavailableOffering[], skips: number): void {
    for (const g of [this.queueLength, this.tokens, this.throttles, this.unavailable]) g.reset();
    for (const f of families) {
      this.queueLength.set({ family: f.family }, f.queued);
      this.tokens.set({ family: f.family }, f.tokens);
      this.throttles.set({ family: f.family }, f.throttles);
    }
    for (const o of offerings)
      this.unavailable.inc({ instance_type: o.instanceType, zone: o.zone, code: o.code });
    this.skips.set(skips);
  }
}
