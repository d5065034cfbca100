// The AWS provider module: upstream's configuration (docs/upstream-compat.md §7) resolved once, empty
// network settings filled from IMDS as upstream does, then one AwsProvider.
import { ConfigError } from "../../src/config/options.ts";
import { InvalidConfigError } from "../errors.ts";
import type { ProviderDeps, ProviderModule } from "../types.ts";
import { fillFromImds } from "./imds.ts";
import { awsEnvNames, resolveAwsConfig } from "./options.ts";
import { AwsProvider, type AwsProviderOptions } from "./provider.ts";

export { AwsProvider, type AwsProviderOptions } from "./provider.ts";
export { awsOptions, awsEnvNames, type AwsConfig } from "./options.ts";

export async function createAwsProvider(
  env: Readonly<Record<string, string | undefined>>,
  deps: ProviderDeps,
  opts: AwsProviderOptions = {},
  flags: Readonly<Record<string, string>> = {},
): Promise<AwsProvider> {
  let cfg;
  try {
    cfg = resolveAwsConfig(env, flags);
  } catch (err) {
    if (err instanceof ConfigError) throw new InvalidConfigError(err.message, { cause: err });
    throw err;
  }
  return new AwsProvider(await fillFromImds(cfg, deps.logger), deps, opts);
}

const awsProviderModule: ProviderModule = {
  name: "aws",
  envNames: awsEnvNames,
  create: (env, deps, flags) => createAwsProvider(env, deps, {}, flags),
};

export default awsProviderModule;
