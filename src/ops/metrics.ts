// Prometheus metrics for the daemon, one registry per instance (tests make several). The sandbox
// manager, the providers, the agent proxy and the leak collector record through these methods;
// `/metrics` serves `text()`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { CloudApiMetrics } from "./cloud-api-metrics.ts";
import { STAGES, type Stage } from "./sandbox-view.ts";

export type CloudOutcome = "ok" | "error" | "throttled";
export type LifecycleOperation = "create" | "start" | "stop";
export type LeakEvent = "found" | "removed";

// Cloud boot times run from seconds to minutes (docs/background.md §2), so the buckets reach 10 min.
const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const CALL_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// Label values from the wire (agent method names) are bounded so a misbehaving peer cannot grow
// the registry without limit.
const MAX_METHODS = 256;
const MAX_CODES = 256;
const LABEL_RE = /^[A-Za-z0-9_./-]{1,128}$/;

// Throttling codes of EC2 (docs/background.md §0) and ARM (HTTP 429), for `cloudAttempt`.
const THROTTLE_RE =
  /^(?:RequestLimitExceeded|Throttl\w*|RequestThrottled\w*|TooManyRequests\w*|EC2ThrottledException|429)$/;

export class Metrics {
  readonly registry: Registry;
  /** Client-side API budgets and the unavailable-offerings cache. */
  readonly cloudApi: CloudApiMetrics;
  private readonly sandboxes: Gauge<"stage">;
  private readonly stageSeconds: Histogram<"stage">;
  private readonly lifecycleSeconds: Histogram<"operation" | "outcome">;
  private readonly cloudCalls: Counter<"provider" | "operation" | "outcome">;
  private readonly cloudErrors: Counter<"provider" | "operation" | "code">;
  private readonly cloudThrottles: Counter<"provider" | "operation" | "code">;
  private readonly cloudSeconds: Histogram<"provider" | "operation">;
  private readonly agentCalls: Counter<"method" | "outcome">;
  private readonly agentSeconds: Histogram<"method">;
  private readonly agentBytes: Counter<"method" | "direction">;
  private readonly leaks: Counter<"event" | "provider">;
  private readonly poolClaims: Counter<"key" | "result">;
  private readonly poolBindSeconds: Histogram<"key" | "outcome">;
  private readonly poolVms: Gauge<"key" | "state">;
  private readonly poolAge: Gauge<"key">;
  private readonly methods = new Set<string>();
  private readonly codes = new Set<string>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.sandboxes = new Gauge({
      name: "caa_sandboxes",
      help: "Sandboxes known to this daemon, by lifecycle stage",
      labelNames: ["stage"],
      registers,
    });
    for (const stage of STAGES) this.sandboxes.set({ stage }, 0);
    this.stageSeconds = new Histogram({
      name: "caa_sandbox_stage_duration_seconds",
      help: "Time a sandbox spent in each lifecycle stage",
      labelNames: ["stage"],
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.lifecycleSeconds = new Histogram({
      name: "caa_sandbox_lifecycle_duration_seconds",
      help: "Duration of CreateVM, StartVM and StopVM as seen by the shim",
      labelNames: ["operation", "outcome"],
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.cloudCalls = new Counter({
      name: "caa_cloud_api_calls_total",
      help: "Cloud API calls, by provider, operation and outcome (ok, error, throttled)",
      labelNames: ["provider", "operation", "outcome"],
      registers,
    });
    this.cloudErrors = new Counter({
      name: "caa_cloud_api_errors_total",
      help: "Cloud API calls that failed (throttling not included), by the cloud's error code",
      labelNames: ["provider", "operation", "code"],
      registers,
    });
    this.cloudThrottles = new Counter({
      name: "caa_cloud_api_throttles_total",
      help: "Cloud API calls refused by the cloud's rate limits",
      labelNames: ["provider", "operation", "code"],
      registers,
    });
    this.cloudSeconds = new Histogram({
      name: "caa_cloud_api_call_duration_seconds",
      help: "Cloud API call latency",
      labelNames: ["provider", "operation"],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.agentCalls = new Counter({
      name: "caa_agent_proxy_calls_total",
      help: "Agent protocol calls relayed to pod VMs, by method and outcome",
      labelNames: ["method", "outcome"],
      registers,
    });
    this.agentSeconds = new Histogram({
      name: "caa_agent_proxy_call_duration_seconds",
      help: "Agent protocol call latency through the proxy",
      labelNames: ["method"],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.agentBytes = new Counter({
      name: "caa_agent_proxy_bytes_total",
      help: "Agent protocol payload bytes relayed, by method and direction (in = from the shim)",
      labelNames: ["method", "direction"],
      registers,
    });
    this.leaks = new Counter({
      name: "caa_leaked_instances_total",
      help: "Cloud instances nobody owns: found by the leak collector, and removed",
      labelNames: ["event", "provider"],
      registers,
    });
    this.poolClaims = new Counter({
      name: "caa_pool_claims_total",
      help: "StartVMs that asked the warm pool, by pool key and result (hit, miss)",
      labelNames: ["key", "result"],
      registers,
    });
    this.poolBindSeconds = new Histogram({
      name: "caa_pool_bind_duration_seconds",
      help: "Time to bind a claimed pooled VM to its pod (push and apply its user-data)",
      labelNames: ["key", "outcome"],
      buckets: CALL_BUCKETS,
      registers,
    });
    this.poolVms = new Gauge({
      name: "caa_pool_vms",
      help: "Unclaimed pooled VMs, by pool key and state (creating, booting, ready)",
      labelNames: ["key", "state"],
      registers,
    });
    this.poolAge = new Gauge({
      name: "caa_pool_oldest_vm_age_seconds",
      help: "Age of the oldest unclaimed pooled VM of each pool key",
      labelNames: ["key"],
      registers,
    });
    this.cloudApi = new CloudApiMetrics(registers);
  }

  poolClaim(key: string, hit: boolean): void {
    this.poolClaims.inc({ key, result: hit ? "hit" : "miss" });
  }

  poolBind(key: string, ms: number, ok: boolean): void {
    this.poolBindSeconds.observe({ key, outcome: ok ? "ok" : "error" }, ms / 1000);
  }

  poolState(
    key: string,
    counts: Record<"creating" | "booting" | "ready", number>,
    oldestSeconds: number,
  ): void {
    for (const [state, n] of Object.entries(counts)) this.poolVms.set({ key, state }, n);
    this.poolAge.set({ key }, oldestSeconds);
  }

  /** Replace the per-stage sandbox counts; stages not given are set to 0. */
  setSandboxStages(counts: Partial<Record<Stage, number>>): void {
    for (const stage of STAGES) this.sandboxes.set({ stage }, counts[stage] ?? 0);
  }

  observeStage(stage: Stage, ms: number): void {
    this.stageSeconds.observe({ stage }, ms / 1000);
  }

  observeLifecycle(operation: LifecycleOperation, ms: number, ok: boolean): void {
    this.lifecycleSeconds.observe({ operation, outcome: ok ? "ok" : "error" }, ms / 1000);
  }

  /** One cloud API call (or attempt); `code` is the cloud's error code when it failed. */
  cloudCall(provider: string, operation: string, outcome: CloudOutcome, ms?: number, code?: string): void {
    this.cloudCalls.inc({ provider, operation, outcome });
    const labels = { provider, operation, code: this.bounded(this.codes, MAX_CODES, code ?? "unknown") };
    if (outcome === "error") this.cloudErrors.inc(labels);
    if (outcome === "throttled") this.cloudThrottles.inc(labels);
    if (ms !== undefined) this.cloudSeconds.observe({ provider, operation }, ms / 1000);
  }

  /**
   * A provider's per-attempt hook (e.g. AWS `onCloudCall(provider, operation, outcome)`), where
   * outcome is "ok" or the cloud's error code; throttling codes count as throttled.
   */
  cloudAttempt(provider: string, operation: string, outcomeOrCode: string): void {
    if (outcomeOrCode === "ok") return this.cloudCall(provider, operation, "ok");
    const outcome = THROTTLE_RE.test(outcomeOrCode) ? "throttled" : "error";
    this.cloudCall(provider, operation, outcome, undefined, outcomeOrCode);
  }

  agentCall(method: string, ms: number, ok: boolean, bytesIn: number, bytesOut: number): void {
    const m = this.bounded(this.methods, MAX_METHODS, method);
    this.agentCalls.inc({ method: m, outcome: ok ? "ok" : "error" });
    this.agentSeconds.observe({ method: m }, ms / 1000);
    if (bytesIn > 0) this.agentBytes.inc({ method: m, direction: "in" }, bytesIn);
    if (bytesOut > 0) this.agentBytes.inc({ method: m, direction: "out" }, bytesOut);
  }

  leak(event: LeakEvent, provider: string): void {
    this.leaks.inc({ event, provider });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The value itself while it looks like a name and the set has room; "other" otherwise. */
  private bounded(seen: Set<string>, max: number, value: string): string {
    if (!LABEL_RE.test(value)) return "other";
    if (seen.has(value)) return value;
    if (seen.size >= max) return "other";
    seen.add(value);
    return value;
  }
}
