// The Azure provider module: `CLOUD_PROVIDER=azure`. Settings come from upstream's env names
// (options.ts); ARM and the login endpoint can be overridden for sovereign clouds and tests.
import type { Provider, ProviderDeps, ProviderModule } from "../types.ts";
import { armOperation, armOutcome } from "./call-names.ts";
import { makeClients } from "./clients.ts";
import { makeCredential } from "./credential.ts";
import { azureEnvNames, checkRequired, resolveAzureConfig } from "./options.ts";
import { AzureProvider } from "./provider.ts";
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
  const rateLimits = parseRateLimits(cfg.rateLimit);
  const { compute, network } = makeClients(makeCredential(cfg), {
    subscriptionId: cfg.subscriptionId,
    armEndpoint: cfg.armEndpoint,
    retry: {
      maxAttempts: cfg.retryMaxAttempts,
      budgetMs: cfg.retryBudgetMs,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
    },
    rateLimits,
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
  const ctx = { cfg, compute, network, logger: deps.logger, pollIntervalMs: cfg.pollIntervalMs };
  return new AzureProvider(ctx, env.HOME);
}

const azure: ProviderModule = {
  name: "azure",
  envNames: azureEnvNames,
  create: createAzureProvider,
};

export default azure;
