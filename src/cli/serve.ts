// `caa serve [provider] [-flag value …]`: the daemon. Flags and env names are upstream's
// (`cloud-api-adaptor <provider> -socket …`), so the same DaemonSet settings work.
import { runtimeRoot, serveOptionSpecs } from "../config/daemon.ts";
import { flagLines } from "../config/help.ts";
import { ConfigError, parseFlags } from "../config/options.ts";
import { startDaemon, type Daemon } from "../daemon/daemon.ts";

export function serveHelp(): string {
  const lines = ["Usage: caa serve [provider] [flags]", "", "Flags (env name, default):"];
  lines.push(...flagLines(serveOptionSpecs()));
  lines.push("", "Provider settings are read from the environment (see README).");
  return lines.join("\n");
}

export async function serve(args: string[]): Promise<void> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(serveHelp());
    return;
  }
  const positional = args[0] !== undefined && !args[0].startsWith("-") ? args[0] : undefined;
  const flags = parseFlags(positional ? args.slice(1) : args, serveOptionSpecs());
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
