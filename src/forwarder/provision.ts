// process-user-data provision-files, in-process (CAA pkg/userdata/provision.go; docs/upstream-compat.md §5.1,
// §5.3): find the user-data (cidata volume, else the cloud's metadata service), write the allowed
// write_files, then unpack initdata and record its digest. `rootDir` prefixes every written path so a
// local "VM" (a network namespace sharing the host's filesystem) keeps its files apart.
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { formatGoDuration } from "../util/duration.ts";
import type { Logger } from "../log/logger.ts";
import { parseUserData, WRITE_FILES_ALLOWLIST } from "../userdata/parse.ts";
import type { WriteFile } from "../userdata/cloud-config.ts";
import { POOL_PATHS } from "../userdata/pool.ts";
import {
  DEFAULT_IMDS_URL,
  detectCloud,
  fetchAwsUserData,
  fetchAzureUserData,
  type CloudKind,
} from "./imds.ts";
import { processInitdata } from "./initdata.ts";
import type { ForwarderConfig } from "./options.ts";
import { writeProvisioned } from "./write.ts";

export const DEFAULT_CIDATA_DIR = "/media/cidata";

export interface ProvisionOptions {
  /** Where the cidata ISO is mounted; `<cidataDir>/user-data` wins over any metadata service. */
  cidataDir?: string;
  /** Metadata service to ask when there is no cidata file: a cloud (and base URL), false for none,
   * undefined to detect the cloud from DMI as upstream does. */
  imds?: { cloud: CloudKind; baseUrl?: string } | false;
  dmiDir?: string;
  /** Upstream -t/--user-data-fetch-timeout (default 180 s). */
  fetchTimeoutMs?: number;
  /** Delay between fetch attempts (upstream: 5 s fixed). */
  retryIntervalMs?: number;
  /** Prefix of every path written; default "/" (a real pod VM). */
  rootDir?: string;
  logger: Logger;
  signal?: AbortSignal;
}

export interface ProvisionResult {
  /** "cidata", "aws", "azure" or "none". */
  source: string;
  written: string[];
  skipped: string[];
  initdataDigest: string;
}

export class ProvisionError extends Error {
  override name = "ProvisionError";
}

interface Source {
  name: string;
  fetch(signal: AbortSignal): Promise<string>;
}

/** The options from the forwarder's (and process-user-data's) flags. */
export function provisionOptions(
  cfg: Pick<ForwarderConfig, "cidataDir" | "imds" | "imdsUrl" | "userDataFetchTimeout" | "rootDir">,
  logger: Logger,
): ProvisionOptions {
  let imds: ProvisionOptions["imds"];
  if (cfg.imds === "none") imds = false;
  else if (cfg.imds === "aws" || cfg.imds === "azure")
    imds = { cloud: cfg.imds, baseUrl: cfg.imdsUrl !== "" ? cfg.imdsUrl : undefined };
  else if (cfg.imds !== "auto")
    throw new ProvisionError(`invalid -imds ${JSON.stringify(cfg.imds)} (auto, aws, azure or none)`);
  return {
    cidataDir: cfg.cidataDir,
    imds,
    fetchTimeoutMs: cfg.userDataFetchTimeout * 1000,
    rootDir: cfg.rootDir,
    logger,
  };
}

export async function provisionFiles(opts: ProvisionOptions): Promise<ProvisionResult> {
  const root = opts.rootDir ?? "/";
  const logger = opts.logger.child({ stage: "provision" });
  const source = await pickSource(opts);
  const result: ProvisionResult = {
    source: source?.name ?? "none",
    written: [],
    skipped: [],
    initdataDigest: "",
  };
  if (source === undefined) {
    logger.info("no user-data source (no cidata file, no known cloud): processing initdata only");
  } else {
    const files = await retrieveWriteFiles(source, opts, logger);
    // Our forwarder also takes a warm-pool VM's bootstrap file; upstream's skips it (src/userdata/pool.ts).
    Object.assign(
      result,
      await writeFiles(root, files, [...WRITE_FILES_ALLOWLIST, POOL_PATHS.bootstrap], logger),
    );
    if (result.written.includes(POOL_PATHS.bootstrap)) {
      // A pooled VM has no pod yet: its initdata (and digest) come with the bind, written once.
      logger.info("warm-pool VM: initdata is processed when the VM is bound to a pod");
      return result;
    }
  }
  result.initdataDigest = await processInitdata(root, logger);
  return result;
}

/**
 * Write the allowed write_files under `root`; others are skipped with upstream's log line. Shared by
 * the cold path (above) and a warm-pool bind (pool-bind.ts), so both leave the same files.
 */
export async function writeFiles(
  root: string,
  files: readonly WriteFile[],
  allowList: readonly string[],
  logger: Logger,
): Promise<{ written: string[]; skipped: string[] }> {
  const out = { written: [] as string[], skipped: [] as string[] };
  for (const wf of files) {
    if (!allowList.includes(wf.path)) {
      logger.warn(`File: ${wf.path} is not allowed in WriteFiles.`);
      out.skipped.push(wf.path);
      continue;
    }
    await writeProvisioned(root, wf.path, wf.content);
    logger.info(`Wrote ${wf.path}`);
    out.written.push(wf.path);
  }
  return out;
}

async function pickSource(opts: ProvisionOptions): Promise<Source | undefined> {
  const cidataFile = path.join(opts.cidataDir ?? DEFAULT_CIDATA_DIR, "user-data");
  if (await exists(cidataFile)) return { name: "cidata", fetch: () => readFile(cidataFile, "utf8") };
  if (opts.imds === false) return undefined;
  const cloud = opts.imds?.cloud ?? (await detectCloud(opts.dmiDir));
  if (cloud === undefined) return undefined;
  const base = opts.imds?.baseUrl ?? DEFAULT_IMDS_URL;
  return cloud === "aws"
    ? { name: "aws", fetch: (signal) => fetchAwsUserData(base, signal) }
    : { name: "azure", fetch: (signal) => fetchAzureUserData(base, signal) };
}

/** Fetch and parse, retrying both at a fixed interval until the fetch timeout (upstream retry.Do). */
async function retrieveWriteFiles(
  source: Source,
  opts: ProvisionOptions,
  logger: Logger,
): Promise<WriteFile[]> {
  const timeoutMs = opts.fetchTimeoutMs ?? 180_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  let lastError: Error | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return parseUserData(await source.fetch(signal));
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (!(deadline.aborted && lastError)) lastError = err as Error;
      logger.warn(
        { source: source.name, attempt, err: lastError.message },
        "failed to get user data; retrying",
      );
    }
    if (!deadline.aborted)
      await sleep(opts.retryIntervalMs ?? 5000, undefined, { signal }).catch(() => undefined);
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (deadline.aborted)
      throw new ProvisionError(
        `failed to retrieve cloud config from ${source.name} within ${formatGoDuration(timeoutMs)}: ${lastError?.message ?? "no answer"}`,
      );
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
