// The Azure provider module: `CLOUD_PROVIDER=azure`. Settings come from upstream's env names
// (options.ts); ARM and the login endpoint can be overridden for sovereign clouds and tests.
import type { Provider, ProviderDeps, ProviderModule } from "../types.ts";
import { armOperation, armOutcome } from "./call-names.ts";
import { makeClients } from "./clients.ts";
import { makeCredential } from "./credential.ts";
import { azureEnvNames, checkRequired, resolveAzureConfig } from "./options.ts";
import { AzureProvider } from "./provider.ts";
import { KARPENTER_WINDOW, NO_WINDOW } from "../cloudapi/batcher.ts";
import { parseShare, scaleLimits } from "../cloudapi/limits.ts";
import { armReads } from "./read-batches.ts";
import { parseRateLimits } from "./rate-limit.ts";

export { azureEnvNames, azureOptions, resolveAzureConfig, type AzureConfig } from "./options.ts";
export { AzureProvider } from "./provider.ts";

function createAzureProvider(
  env: NodeJS.ProcessEnv,
  deps: ProviderDeps,
  flags: Readonly<Record<string, string>> = {},
): Provider {
  const cfg = resolveAzureConfig(env, flags);
  checkRequired(cfg);
  const rateLimits = scaleLimits(parseRateLimits(cfg.rateLimit), parseShare(cfg.rateShare));
  const { compute, network, limiter } = makeClients(makeCredential(cfg), {
    subscriptionId: cfg.subscriptionId,
    armEndpoint: cfg.armEndpoint,
    retry: {
      maxAttempts: cfg.retryMaxAttempts,
      budgetMs: cfg.retryBudgetMs,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
    },
    rateLimits,
    budget: {
      maxWaitMs: cfg.queueTimeoutMs,
      observer: {
        onWait: deps.onCloudQueueWait
          ? (family, ms) => deps.onCloudQueueWait?.("azure", family, ms)
          : undefined,
      },
    },
    hooks: {
      onRetry: (info) => deps.logger.debug(info, "retrying ARM request"),
      onRequest: (e) =>
        deps.onCloudCall?.(
          "azure",
          armOperation(e.method, e.path),
          e.status === "error" ? (e.detail ?? "RequestSendError") : armOutcome(e.status, e.detail),
        ),
    },
  });
  const ctx = {
    cfg,
    compute,
    network,
    logger: deps.logger,
    pollIntervalMs: cfg.pollIntervalMs,
    reads: armReads({ compute, network }, cfg.batching ? KARPENTER_WINDOW : NO_WINDOW),
  };
  return new AzureProvider(ctx, env.HOME, limiter);
}

const azure: ProviderModule = {
  name: "azure",
  envNames: azureEnvNames,
  create: createAzureProvider,
};

export default azure;
