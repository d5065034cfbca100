// `caa forwarder` as a process: run until SIGTERM/SIGINT, exit non-zero with a one-line error when
// start-up fails (missing or malformed apf.json, bad flags, listen error), as upstream's APF exits.
import { createLogger, type Logger } from "../log/logger.ts";
import { runForwarder } from "./forwarder.ts";

/** Returns the process exit code. */
export async function forwarderMain(
  argv: readonly string[],
  logger: Logger = createLogger(),
): Promise<number> {
  let handle;
  try {
    handle = await runForwarder(argv, logger);
  } catch (err) {
    logger.child({ component: "forwarder" }).error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await handle.close();
  return 0;
}

if (import.meta.main) {
  process.exitCode = await forwarderMain(process.argv.slice(2));
}
