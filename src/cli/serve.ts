// `caa serve [provider] [-flag value …]`: the daemon. Flags and env names are upstream's
// (`cloud-api-adaptor <provider> -socket …`), so the same DaemonSet settings work.
import { serveOptionSpecs } from "../config/daemon.ts";
import { runtimeRoot } from "../config/runtime-root.ts";
import { flagLines } from "../config/help.ts";
import { ConfigError, parseFlags } from "../config/options.ts";
import { BUILTIN_PROVIDERS, providerOptions } from "../../providers/registry.ts";
import { startDaemon, type Daemon } from "../daemon/daemon.ts";

export async function serveHelp(provider: string): Promise<string> {
  const lines = ["Usage: caa serve [provider] [flags]", "", "Flags (env name, default):"];
  lines.push(...flagLines(serveOptionSpecs()));
  const own = await providerOptions(provider);
  if (Object.keys(own).length > 0) {
    lines.push("", `Flags of the ${provider} provider (env name, default):`, ...flagLines([own]));
  }
  const others = BUILTIN_PROVIDERS.filter((p) => p !== provider).join(", ");
  lines.push("", `Other providers' flags: caa serve <provider> -h (${others}).`);
  return lines.join("\n");
}

/** The provider named by `caa serve <provider>`, else `-provider`, else CLOUD_PROVIDER, else local. */
function providerName(positional: string | undefined, args: readonly string[]): string {
  if (positional) return positional;
  for (let i = 0; i < args.length; i++) {
    const m = /^--?provider(?:=(.*))?$/s.exec(args[i]);
    if (m) return m[1] ?? args[i + 1] ?? "";
  }
  return process.env.CLOUD_PROVIDER || "local";
}

export async function serve(args: string[]): Promise<void> {
  const positional = args[0] !== undefined && !args[0].startsWith("-") ? args[0] : undefined;
  const rest = positional ? args.slice(1) : args;
  const provider = providerName(positional, rest);
  if (args.includes("-h") || args.includes("--help")) {
    console.log(await serveHelp(provider));
    return;
  }
  // Upstream's `cloud-api-adaptor aws -aws-profile p …`: the provider's flags beside the daemon's.
  const flags = parseFlags(rest, [...serveOptionSpecs(), await providerOptions(provider)]);
  if (positional) flags.provider = positional;
  if (process.getuid?.() !== 0) {
    console.error(`caa: not running as root; default paths are under ${runtimeRoot()}`);
  }
  // Handlers first: a SIGTERM that arrives while the daemon starts must still shut it down cleanly.
  const state: { daemon?: Daemon; pending?: string } = {};
  const stop = (signal: string) => {
    const daemon = state.daemon;
    if (!daemon) {
      state.pending = signal;
      return;
    }
    daemon.logger.info({ signal }, `received ${signal}, shutting down`);
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  state.daemon = await startDaemon({ env: process.env, flags });
  if (state.pending) stop(state.pending);
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}
