// Prometheus metrics for the daemon, one registry per instance (tests make several). The sandbox
// manager, the providers, the agent proxy and the leak collector record through these methods;
// `/metrics` serves `text()`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { STAGES, type Stage } from "./sandbox-view.ts";

export type CloudOutcome = "ok" | "error" | "throttled";
export type LifecycleOperation = "create" | "start" | "stop";
export type LeakEvent = "found" | "removed";

// Cloud boot times run from seconds to minutes (users-and-clouds.md §2), so the buckets reach 10 min.
const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const CALL_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// Label values from the wire (agent method names) are bounded so a misbehaving peer cannot grow
// the registry without limit.
const MAX_METHODS = 256;
const METHOD_RE = /^[A-Za-z0-9_./-]{1,128}$/;

export class Metrics {
  readonly registry: Registry;
  private readonly sandboxes: Gauge<"stage">;
  private readonly stageSeconds: Histogram<"stage">;
  private readonly lifecycleSeconds: Histogram<"operation" | "outcome">;
  private readonly cloudCalls: Counter<"provider" | "operation" | "outcome">;
  private readonly cloudErrors: Counter<"provider" | "operation">;
  private readonly cloudThrottles: Counter<"provider" | "operation">;
  private readonly cloudSeconds: Histogram<"provider" | "operation">;
  private readonly agentCalls: Counter<"method" | "outcome">;
  private readonly agentSeconds: Histogram<"method">;
  private readonly agentBytes: Counter<"method" | "direction">;
  private readonly leaks: Counter<"event" | "provider">;
  private readonly methods = new Set<string>();

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
      help: "Cloud API calls that failed (throttling not included)",
      labelNames: ["provider", "operation"],
      registers,
    });
    this.cloudThrottles = new Counter({
      name: "caa_cloud_api_throttles_total",
      help: "Cloud API calls refused by the cloud's rate limits",
      labelNames: ["provider", "operation"],
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

  cloudCall(provider: string, operation: string, outcome: CloudOutcome, ms?: number): void {
    this.cloudCalls.inc({ provider, operation, outcome });
    if (outcome === "error") this.cloudErrors.inc({ provider, operation });
    if (outcome === "throttled") this.cloudThrottles.inc({ provider, operation });
    if (ms !== undefined) this.cloudSeconds.observe({ provider, operation }, ms / 1000);
  }

  agentCall(method: string, ms: number, ok: boolean, bytesIn: number, bytesOut: number): void {
    const m = this.methodLabel(method);
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

  private methodLabel(method: string): string {
    if (!METHOD_RE.test(method)) return "other";
    if (this.methods.has(method)) return method;
    if (this.methods.size >= MAX_METHODS) return "other";
    this.methods.add(method);
    return method;
  }
}
