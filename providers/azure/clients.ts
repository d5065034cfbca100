// The SDK clients, with one retry layer: the SDK's default retry policy is removed and ours
// (arm-retry.ts) takes its place in the pipeline's Retry phase.
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import type { TokenCredential } from "@azure/identity";
import {
  armRetryPolicy,
  SDK_RETRY_POLICY,
  type RetryHooks,
  type RetrySettings,
  ThrottleGate,
} from "./arm-retry.ts";
import { lroCapturePolicy } from "./lro-capture.ts";
import type { BudgetObserver } from "../cloudapi/budget.ts";
import { ArmRateLimiter, type RateLimits } from "./rate-limit.ts";

export interface ArmClients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  gate: ThrottleGate;
  /** The client-side buckets, when there are any. */
  limiter?: ArmRateLimiter;
}

export interface ClientSettings {
  subscriptionId: string;
  armEndpoint: string;
  retry: RetrySettings;
  /** Client-side token buckets; none when absent or empty. */
  rateLimits?: RateLimits;
  /** Longest wait for a token, and who hears of waits. */
  budget?: { maxWaitMs: number; observer?: BudgetObserver };
  hooks?: RetryHooks;
}

type Pipeline = ComputeManagementClient["pipeline"];

function installPolicies(
  pipeline: Pipeline,
  settings: ClientSettings,
  gate: ThrottleGate,
  limiter: ArmRateLimiter | undefined,
): void {
  pipeline.removePolicy({ name: SDK_RETRY_POLICY });
  pipeline.addPolicy(armRetryPolicy(settings.retry, gate, settings.hooks, limiter), { phase: "Retry" });
  pipeline.addPolicy(lroCapturePolicy());
}

export function makeClients(credential: TokenCredential, settings: ClientSettings): ArmClients {
  const endpoint = settings.armEndpoint.replace(/\/+$/, "");
  // The token audience is the ARM endpoint itself (management.azure.com, management.chinacloudapi.cn, …).
  const options = { endpoint, credentials: { scopes: [`${new URL(endpoint).origin}/.default`] } };
  // One gate and one set of buckets for both clients: ARM throttles per subscription and principal.
  const gate = new ThrottleGate();
  const limits = settings.rateLimits ?? {};
  const limiter = Object.keys(limits).length > 0 ? new ArmRateLimiter(limits, settings.budget) : undefined;
  const compute = new ComputeManagementClient(credential, settings.subscriptionId, options);
  const network = new NetworkManagementClient(credential, settings.subscriptionId, options);
  installPolicies(compute.pipeline, settings, gate, limiter);
  installPolicies(network.pipeline, settings, gate, limiter);
  return { compute, network, gate, limiter };
}
