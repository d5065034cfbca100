// Providers by name. The built-in ones load lazily (the cloud SDKs are large); an external module
// is loaded from a path or package name only when its sha256 matches the configured hash, as
// upstream's ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN / CLOUD_PROVIDER_EXTERNAL_PLUGIN_PATH /
// CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH (docs/upstream-compat.md §2.2).
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { OptionSpec } from "../src/config/options.ts";
import { InvalidConfigError } from "./errors.ts";
import type { Provider, ProviderDeps, ProviderModule } from "./types.ts";

const BUILTIN: Record<string, () => Promise<{ default: ProviderModule }>> = {
  local: () => import("./local/index.ts"),
  aws: () => import("./aws/index.ts"),
  azure: () => import("./azure/index.ts"),
};

export const BUILTIN_PROVIDERS = Object.keys(BUILTIN);

// Each built-in provider's flags, without its SDK: `caa serve aws -aws-profile p` is parsed (and
// `caa serve aws -h` printed) before the provider module itself loads.
const BUILTIN_OPTIONS: Record<string, () => Promise<OptionSpec>> = {
  local: async () => (await import("./local/config.ts")).LOCAL_OPTIONS,
  aws: async () => (await import("./aws/options.ts")).awsOptions,
  azure: async () => (await import("./azure/options.ts")).azureOptions,
};

/** The flags a built-in provider takes; none for an external plugin (it reads its env). */
export async function providerOptions(name: string): Promise<OptionSpec> {
  const load = BUILTIN_OPTIONS[name];
  return load ? load() : {};
}

export interface PluginSettings {
  enabled: boolean;
  path: string;
  hash: string;
}

/** Find the file an external provider names: a file, a directory holding `<name>.ts|.js`, or a package. */
async function pluginFile(name: string, path: string): Promise<string> {
  const looksLikePath = isAbsolute(path) || path.startsWith(".");
  if (!looksLikePath) {
    return createRequire(join(process.cwd(), "index.js")).resolve(path);
  }
  const full = resolve(path);
  const st = await stat(full).catch(() => undefined);
  if (!st) throw new InvalidConfigError(`external provider plugin ${full} does not exist`);
  if (!st.isDirectory()) return full;
  for (const ext of [".ts", ".js", ".mjs"]) {
    const candidate = join(full, name + ext);
    if (await stat(candidate).catch(() => undefined)) return candidate;
  }
  throw new InvalidConfigError(`no ${name}.ts or ${name}.js in external provider plugin directory ${full}`);
}

export async function loadExternalModule(name: string, plugin: PluginSettings): Promise<ProviderModule> {
  if (plugin.path === "") throw new InvalidConfigError("CLOUD_PROVIDER_EXTERNAL_PLUGIN_PATH is empty");
  if (plugin.hash === "") throw new InvalidConfigError("CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH is empty");
  const file = await pluginFile(name, plugin.path);
  const actual = createHash("sha256")
    .update(await readFile(file))
    .digest("hex");
  if (actual !== plugin.hash.trim().toLowerCase()) {
    throw new InvalidConfigError(
      `external provider plugin ${file}: sha256 ${actual} does not match CLOUD_PROVIDER_EXTERNAL_PLUGIN_HASH ${plugin.hash}`,
    );
  }
  const mod = (await import(pathToFileURL(file).href)) as { default?: ProviderModule };
  const pm = mod.default;
  if (!pm || typeof pm.create !== "function") {
    throw new InvalidConfigError(`external provider plugin ${file} has no default export with create()`);
  }
  if (pm.name !== name) {
    throw new InvalidConfigError(`external provider plugin ${file} is "${pm.name}", not "${name}"`);
  }
  return pm;
}

export async function loadProviderModule(name: string, plugin: PluginSettings): Promise<ProviderModule> {
  if (plugin.enabled) return loadExternalModule(name, plugin);
  const load = BUILTIN[name];
  if (!load) {
    throw new InvalidConfigError(
      `unknown cloud provider "${name}" (built in: ${BUILTIN_PROVIDERS.join(", ")}; external plugins need ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN=true)`,
    );
  }
  return (await load()).default;
}

export async function loadProvider(
  name: string,
  env: NodeJS.ProcessEnv,
  deps: ProviderDeps,
  plugin: PluginSettings = { enabled: false, path: "", hash: "" },
  flags: Readonly<Record<string, string>> = {},
): Promise<Provider> {
  const mod = await loadProviderModule(name, plugin);
  return mod.create(env, deps, flags);
}
