// What every part of the Azure provider works with: settings, SDK clients, logger, LRO options.
import type { ComputeManagementClient } from "@azure/arm-compute";
import type { NetworkManagementClient } from "@azure/arm-network";
import type { ProviderLogger } from "../types.ts";
import type { AzureConfig } from "./options.ts";
import type { ArmReads } from "./read-batches.ts";

export interface AzureContext {
  cfg: AzureConfig;
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  logger: ProviderLogger;
  /** Poll interval of LROs when Azure sends no Retry-After. */
  pollIntervalMs: number;
  /** NIC, public IP and disk reads, batched across sandboxes. */
  reads: ArmReads;
}

/** SDK operation options: the caller's abort signal plus the LRO poll interval. */
export function lroOptions(
  ctx: AzureContext,
  signal?: AbortSignal,
): { abortSignal?: AbortSignal; updateIntervalInMs: number } {
  return { abortSignal: signal, updateIntervalInMs: ctx.pollIntervalMs };
}

/** Options of a plain (non-LRO) SDK call. */
export function callOptions(signal?: AbortSignal): { abortSignal?: AbortSignal } {
  return { abortSignal: signal };
}
