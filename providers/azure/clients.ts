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

export interface ArmClients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  gate: ThrottleGate;
}

export interface ClientSettings {
  subscriptionId: string;
  armEndpoint: string;
  retry: RetrySettings;
  hooks?: RetryHooks;
}

type Pipeline = ComputeManagementClient["pipeline"];

function installPolicies(pipeline: Pipeline, settings: ClientSettings, gate: ThrottleGate): void {
  pipeline.removePolicy({ name: SDK_RETRY_POLICY });
  pipeline.addPolicy(armRetryPolicy(settings.retry, gate, settings.hooks), { phase: "Retry" });
  pipeline.addPolicy(lroCapturePolicy());
}

export function makeClients(credential: TokenCredential, settings: ClientSettings): ArmClients {
  const endpoint = settings.armEndpoint.replace(/\/+$/, "");
  // The token audience is the ARM endpoint itself (management.azure.com, management.chinacloudapi.cn, …).
  const options = { endpoint, credentials: { scopes: [`${new URL(endpoint).origin}/.default`] } };
  const gate = new ThrottleGate();
  const compute = new ComputeManagementClient(credential, settings.subscriptionId, options);
  const network = new NetworkManagementClient(credential, settings.subscriptionId, options);
  installPolicies(compute.pipeline, settings, gate);
  installPolicies(network.pipeline, settings, gate);
  return { compute, network, gate };
}
