// `caa forwarder` as a process: run until SIGTERM/SIGINT, exit non-zero with a one-line error when
// start-up fails (missing or malformed apf.json, bad flags, listen error), as upstream's APF exits.
// Under a systemd unit of Type=notify (upstream's image runs it so) it reports READY=1 once it
// listens and STOPPING=1 when it stops (src/util/sd-notify.ts).
import { flagLines } from "../config/help.ts";
import { parseFlags, resolve } from "../config/options.ts";
import { versionBanner } from "../config/version.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { sdNotify } from "../util/sd-notify.ts";
import { runForwarder } from "./forwarder.ts";
import { FORWARDER_OPTIONS } from "./options.ts";

export function forwarderHelp(): string {
  return [
    "Usage: caa forwarder [flags]",
    "",
    "The agent-protocol-forwarder of the pod VM (upstream's flags; none has an env name).",
    "",
    "Flags (default):",
    ...flagLines([FORWARDER_OPTIONS]),
  ].join("\n");
}

/** Returns the process exit code. */
export async function forwarderMain(
  argv: readonly string[],
  logger: Logger = createLogger(),
): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(`${forwarderHelp()}\n`);
    return 0;
  }
  const log = logger.child({ component: "forwarder" });
  let handle;
  try {
    const cfg = resolve(FORWARDER_OPTIONS, { env: {}, flags: parseFlags(argv, [FORWARDER_OPTIONS]) });
    if (cfg.version) {
      process.stdout.write(versionBanner("agent-protocol-forwarder"));
      return 0;
    }
    handle = await runForwarder(cfg, logger, { onReady: () => void sdNotify("READY=1", log) });
  } catch (err) {
    log.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await sdNotify("STOPPING=1", log);
  await handle.close();
  return 0;
}

if (import.meta.main) {
  process.exitCode = await forwarderMain(process.argv.slice(2));
}
