// The EC2 client: credentials as upstream (static keys if ID and secret are both set, else the
// profile, else the SDK default chain, which covers IRSA; docs/upstream-compat.md §7), an endpoint
// override for moto, one request timeout, and our retry middleware with the SDK's own retries off;
// inside it, when the budget is on, the call layer that paces every attempt (budget-middleware.ts);
// below both, unless AWS_LEAN_EC2_CALLS=false, the lean path that sends the hot calls (query/).
import { EC2Client, type EC2ClientConfig } from "@aws-sdk/client-ec2";
import type { AwsConfig } from "./options.ts";
import { endpointOf } from "./options.ts";
import type { CallBudget } from "../cloudapi/budget.ts";
import { budgetPlugin, queuedMsOf } from "./budget-middleware.ts";
import { retryPlugin, type CallHooks } from "./retry.ts";
import { leanCalls } from "./query/plugin.ts";

/** The SDK's client; destroying it also closes the lean path's sockets. */
class Ec2Client extends EC2Client {
  readonly #closers: (() => void)[] = [];

  onDestroy(close: () => void): void {
    this.#closers.push(close);
  }

  override destroy(): void {
    for (const close of this.#closers.splice(0)) close();
    super.destroy();
  }
}

export type ClientCustomizer = (client: EC2Client) => void;

export function credentialsMode(cfg: AwsConfig): "static" | "profile" | "default-chain" {
  if (cfg.accessKeyId && cfg.secretKey) return "static";
  return cfg.profile ? "profile" : "default-chain";
}

export function createEc2Client(
  cfg: AwsConfig,
  hooks: CallHooks,
  budget: CallBudget | undefined,
  customize?: ClientCustomizer,
): EC2Client {
  const timeouts = { requestMs: cfg.apiTimeoutMs, connectMs: Math.min(cfg.apiTimeoutMs, 10_000) };
  const conf: EC2ClientConfig = {
    region: cfg.region,
    maxAttempts: 1,
    // Without throwOnRequestTimeout the SDK's handler only logs a warning when requestTimeout
    // passes, and a request EC2 never answers hangs the call (and the sandbox) for good.
    requestHandler: {
      requestTimeout: timeouts.requestMs,
      connectionTimeout: timeouts.connectMs,
      throwOnRequestTimeout: true,
    },
  };
  const endpoint = endpointOf(cfg);
  if (endpoint) conf.endpoint = endpoint;
  const mode = credentialsMode(cfg);
  if (mode === "static") {
    conf.credentials = {
      accessKeyId: cfg.accessKeyId,
      secretAccessKey: cfg.secretKey,
      ...(cfg.sessionToken ? { sessionToken: cfg.sessionToken } : {}),
    };
  } else if (mode === "profile") {
    conf.profile = cfg.profile;
  }
  const client = new Ec2Client(conf);
  // The SDK's logger middleware filters every input and output through the operation's schema for
  // a logger we never give it (the default no-op one): a few percent of the daemon's CPU per call.
  client.middlewareStack.remove("loggerMiddleware");
  client.middlewareStack.use(retryPlugin(budget ? { ...hooks, paced: { queuedMs: queuedMsOf } } : hooks));
  if (budget) client.middlewareStack.use(budgetPlugin(budget));
  if (cfg.leanCalls) {
    const lean = leanCalls(client, { region: cfg.region, endpoint, timeouts });
    client.middlewareStack.use(lean.plugin());
    client.onDestroy(() => lean.destroy());
  }
  customize?.(client);
  return client;
}
