// `caa conformance [provider] [--provider NAME] [--junit PATH] [--yes-i-own-this-account] …`:
// builds the provider from the environment exactly as the daemon would and runs the suite.
// Exit code 0 = conformant, 1 = a case failed, 2 = usage error or refused.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Writable } from "node:stream";
import { loadProvider } from "../../providers/registry.ts";
import type { Provider, ProviderDeps } from "../../providers/types.ts";
import { bool, ConfigError, duration, int, parseFlags, resolve, str } from "../config/options.ts";
import { flagLines } from "../config/help.ts";
import { createLogger } from "../log/logger.ts";
import { ConformanceRefusedError, isRealCloud, refusalMessage } from "./real-account.ts";
import { runConformance } from "./runner.ts";

export const conformanceOptions = {
  provider: str(
    "provider",
    "CLOUD_PROVIDER",
    "",
    "provider to test: aws, azure, local or an external plugin",
  ),
  junit: str("junit", undefined, "", "JUnit XML file (default junit-conformance-<provider>.xml)"),
  yes: bool(
    "yes-i-own-this-account",
    undefined,
    false,
    "allow creating and deleting instances in a real cloud account (no emulator endpoint configured)",
  ),
  concurrency: int("concurrency", undefined, 5, "instances created at once in the concurrency case"),
  caseTimeoutMs: duration(
    "case-timeout",
    undefined,
    0,
    "time limit per case (default 2m emulated, 15m real cloud)",
  ),
};

export interface ConformanceIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: Writable;
  stderr: Writable;
  /** Aborting it interrupts the cases; cleanup still runs. */
  signal?: AbortSignal;
  /** Builds the provider; defaults to the provider registry. */
  load?: (name: string, env: NodeJS.ProcessEnv, deps: ProviderDeps) => Promise<Provider>;
}

export function conformanceHelp(): string {
  const lines = ["Usage: caa conformance [provider] [flags]", "", "Flags (env name, default):"];
  lines.push(...flagLines([conformanceOptions], "--"));
  lines.push(
    "",
    "The provider reads its settings from the environment, as `caa serve` does. AWS with AWS_ENDPOINT",
    "(moto), Azure with AZURE_ARM_ENDPOINT (the ARM emulator) and local run without confirmation.",
  );
  return lines.join("\n");
}

export async function conformanceCommand(argv: readonly string[], io: ConformanceIo): Promise<number> {
  if (argv.includes("-h") || argv.includes("--help")) {
    io.stdout.write(`${conformanceHelp()}\n`);
    return 0;
  }
  let opts;
  try {
    const positional = argv[0] !== undefined && !argv[0].startsWith("-") ? argv[0] : undefined;
    const flags = parseFlags(positional ? argv.slice(1) : argv, [conformanceOptions]);
    if (positional) flags.provider = positional;
    opts = resolve(conformanceOptions, { env: io.env, flags });
    if (opts.provider === "")
      throw new ConfigError("no provider: pass --provider <name> (aws, azure, local)");
    if (opts.concurrency < 1) throw new ConfigError("--concurrency must be at least 1");
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`caa conformance: ${err.message}\n`);
    return 2;
  }

  const real = isRealCloud(opts.provider, io.env);
  if (real && !opts.yes) {
    io.stderr.write(`caa conformance: ${refusalMessage(opts.provider)}\n`);
    return 2;
  }
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "caa-conformance-"));
  const logger = createLogger({
    level: io.env.LOG_LEVEL ?? "warn",
    destination: io.stderr,
  });
  let provider: Provider | undefined;
  try {
    try {
      provider = await (io.load ?? loadProvider)(opts.provider, { ...io.env }, { logger, stateDir });
    } catch (err) {
      io.stderr.write(
        `caa conformance: cannot set up provider ${opts.provider}: ${(err as Error).message}\n`,
      );
      return 2;
    }
    const report = await runConformance({
      provider,
      providerName: opts.provider,
      isRealCloud: real,
      yesIOwnThisAccount: opts.yes,
      junitPath: opts.junit || `junit-conformance-${opts.provider}.xml`,
      out: io.stdout,
      concurrency: opts.concurrency,
      signal: io.signal,
      caseTimeoutMs: opts.caseTimeoutMs || undefined,
    });
    return report.ok ? 0 : 1;
  } catch (err) {
    if (!(err instanceof ConformanceRefusedError)) throw err;
    io.stderr.write(`caa conformance: ${err.message}\n`);
    return 2;
  } finally {
    await provider?.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** `caa conformance` on this process: its env and stdio; the first SIGINT/SIGTERM interrupts and cleans up. */
export async function conformanceMain(argv: readonly string[]): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write(`caa conformance: ${sig}: stopping after cleanup (again to quit at once)\n`);
    interrupt.abort(new Error(`interrupted by ${sig}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await conformanceCommand(argv, {
      env: process.env,
      stdout: process.stdout,
      stderr: process.stderr,
      signal: interrupt.signal,
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
