// `process-user-data provision-files`, as upstream's pod-VM image runs it: a oneshot unit before the
// kata agent and the forwarder (CAA src/cloud-api-adaptor/cmd/process-user-data/main.go,
// podvm/files/etc/systemd/system/process-user-data.service). It is the forwarder's provisioning
// step (provision.ts) in a process of its own, so that a forwarder started after it with
// -skip-provision never loads the YAML, TOML and gzip code (docs/pod-vm-image.md).
// Flags: upstream's -t/--user-data-fetch-timeout, plus the forwarder's -root-dir, -cidata-dir, -imds
// and -imds-url.
import { flagLines } from "../config/help.ts";
import { parseFlags, resolve } from "../config/options.ts";
import { versionBanner } from "../config/version.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { FORWARDER_OPTIONS } from "./options.ts";

const { userDataFetchTimeout, rootDir, cidataDir, imds, imdsUrl } = FORWARDER_OPTIONS;
export const PROCESS_USER_DATA_OPTIONS = { userDataFetchTimeout, rootDir, cidataDir, imds, imdsUrl };

export function processUserDataHelp(): string {
  return [
    "Usage: process-user-data provision-files [flags]",
    "",
    "Writes the pod VM's files (apf.json, initdata, ...) from its user-data: the cidata volume,",
    "else the cloud's metadata service. Upstream's command of that name.",
    "",
    "Flags (default):",
    "  -t <n>  the same as -user-data-fetch-timeout",
    "  -v, --version  print the version and exit",
    ...flagLines([PROCESS_USER_DATA_OPTIONS]),
  ].join("\n");
}

/** Upstream's cobra flags: -t is the short form of --user-data-fetch-timeout. */
function expandShortFlags(argv: readonly string[]): string[] {
  return argv.map((a) =>
    a === "-t" ? "--user-data-fetch-timeout" : a.replace(/^-t=/, "--user-data-fetch-timeout="),
  );
}

/** Returns the process exit code; a failure is one log line, as the forwarder's. */
export async function processUserDataMain(
  argv: readonly string[],
  logger: Logger = createLogger(),
): Promise<number> {
  if (argv.length === 0 || argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(`${processUserDataHelp()}\n`);
    return argv.length === 0 ? 1 : 0;
  }
  // cobra's persistent -v/--version, in any place.
  if (argv.includes("-v") || argv.includes("--version")) {
    process.stdout.write(versionBanner("process-user-data"));
    return 0;
  }
  const log = logger.child({ component: "process-user-data" });
  const [command, ...rest] = argv;
  if (command !== "provision-files") {
    log.error(`unknown command ${JSON.stringify(command)} (provision-files)`);
    return 1;
  }
  try {
    const cfg = resolve(PROCESS_USER_DATA_OPTIONS, {
      env: {},
      flags: parseFlags(expandShortFlags(rest), [PROCESS_USER_DATA_OPTIONS]),
    });
    const { provisionFiles, provisionOptions } = await import("./provision.ts");
    const result = await provisionFiles(provisionOptions(cfg, log));
    log.info(
      { source: result.source, written: result.written.length, skipped: result.skipped.length },
      "provisioned",
    );
    return 0;
  } catch (err) {
    log.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
}
