// Builds and runs test/go's ttrpcpeer: containerd's Go ttrpc library (Debian packages, GOPATH mode) acting as
// server, client, kata-shim call sequence or benchmark client (docs/testing.md "ttrpc").
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { access, mkdir, readdir, rename, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { teeChild } from "./test-logs.ts";

const execFileP = promisify(execFile);

const repoRoot = path.resolve(import.meta.dirname, "../..");
const goRoot = path.join(repoRoot, "test/go");
const pkgDir = path.join(goRoot, "gopath/src/ttrpcpeer");
const binPath = path.join(goRoot, "bin/ttrpcpeer");
const debianGopath = "/usr/share/gocode";
const ttrpcSources = path.join(debianGopath, "src/github.com/containerd/ttrpc");

const goEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GO111MODULE: "off",
  GOPROXY: "off",
  GOFLAGS: "",
  GOPATH: `${path.join(goRoot, "gopath")}:${debianGopath}`,
  GOCACHE: path.join(repoRoot, ".gocache"),
});

let built: Promise<string> | undefined;

/**
 * Builds ttrpcpeer once per process (skipped when the binary is newer than every source file) and returns its
 * path. Missing Go or Debian's ttrpc sources is an error, not a skip: CI installs them.
 */
export function buildGoPeer(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  try {
    await execFileP("go", ["version"], { env: goEnv() });
  } catch (err) {
    throw new Error(
      `go-peer: the Go toolchain is needed (apt-get install golang-go; see docs/testing.md "ttrpc"): ${String(err)}`,
      { cause: err },
    );
  }
  try {
    await access(ttrpcSources);
  } catch (err) {
    throw new Error(
      `go-peer: containerd's ttrpc Go sources are missing at ${ttrpcSources} (apt-get install ` +
        "golang-github-containerd-ttrpc-dev golang-github-gogo-protobuf-dev golang-google-protobuf-dev)",
      { cause: err },
    );
  }
  const sources = (await readdir(pkgDir)).filter((f) => f.endsWith(".go"));
  const newestSource = Math.max(
    ...(await Promise.all(sources.map(async (f) => (await stat(path.join(pkgDir, f))).mtimeMs))),
  );
  const binMtime = await stat(binPath).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (binMtime > newestSource) return binPath;
  await mkdir(path.dirname(binPath), { recursive: true });
  // Build to a private name and rename, so concurrent test processes never run a half-written binary.
  const tmp = `${binPath}.${process.pid}.tmp`;
  try {
    await execFileP("go", ["build", "-o", tmp, "ttrpcpeer"], { env: goEnv(), cwd: goRoot });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`go-peer: go build ttrpcpeer failed: ${e.stderr || e.message}`, { cause: err });
  }
  await rename(tmp, binPath);
  return binPath;
}

/** Runs one subcommand to completion and returns its stdout split into JSON lines. */
export async function runGoPeerJson<T = unknown>(args: string[], timeoutMs = 30_000): Promise<T[]> {
  const bin = await buildGoPeer();
  try {
    const { stdout } = await execFileP(bin, args, { timeout: timeoutMs, killSignal: "SIGKILL" });
    return stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as T);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`go-peer ${args[0]} failed: ${e.stderr || e.message}`, { cause: err });
  }
}

/** One call result as printed by `ttrpcpeer client`. Transport errors are reported as 14. */
export interface GoCallResult {
  code: number;
  message: string;
  payloadHex: string;
  ms: number;
}

export interface GoCallOptions {
  service?: string;
  method?: string;
  payload?: Uint8Array;
  /** A Go duration, e.g. "500ms"; absent = no deadline. */
  timeout?: string;
  metadata?: [string, string][];
  /** Concurrent calls on one connection. */
  count?: number;
  /** Keep the connection open this long after the calls (Go duration), e.g. to let the server see a deadline. */
  linger?: string;
}

/** Calls a ttrpc server with containerd's Go client; one result per call. */
export function goClientCall(socket: string, opts: GoCallOptions = {}): Promise<GoCallResult[]> {
  const args = [
    "client",
    "-socket",
    socket,
    "-service",
    opts.service ?? "test.Echo",
    "-method",
    opts.method ?? "Echo",
  ];
  args.push("-payload-hex", Buffer.from(opts.payload ?? new Uint8Array()).toString("hex"));
  if (opts.timeout) args.push("-timeout", opts.timeout);
  if (opts.count) args.push("-count", String(opts.count));
  if (opts.linger) args.push("-linger", opts.linger);
  for (const [k, v] of opts.metadata ?? []) args.push("-metadata", `${k}=${v}`);
  return runGoPeerJson<GoCallResult>(args);
}

/** One step as printed by `ttrpcpeer hypervisor-lifecycle`. */
export interface ShimStep {
  step: "CreateVM" | "StartVM" | "StopVM";
  code: number;
  message: string;
  agentSocketPath?: string;
  ms: number;
}

export interface ShimOptions {
  id: string;
  netns?: string;
  /** "go": a connection per call, StopVM without deadline; "rust": one client, StopVM with a 1 s deadline. */
  style?: "go" | "rust";
  annotations?: Record<string, string>;
  /** Default ["create", "start", "stop"]. */
  steps?: ("create" | "start" | "stop")[];
  /** StartVM deadline as a Go duration; default "600s" as the shipped kata config. */
  startTimeout?: string;
  /** Default "hypervisor.Hypervisor"; "remote.Hypervisor" is what runtime-rs before kata 3.23 calls. */
  service?: "hypervisor.Hypervisor" | "remote.Hypervisor";
}

/** Plays the kata shim's CreateVM/StartVM/StopVM sequence (docs/upstream-compat.md §1.3) against hypervisor.Hypervisor. */
export function goShimLifecycle(socket: string, opts: ShimOptions, timeoutMs = 120_000): Promise<ShimStep[]> {
  const args = ["hypervisor-lifecycle", "-socket", socket, "-id", opts.id, "-style", opts.style ?? "go"];
  if (opts.netns) args.push("-netns", opts.netns);
  if (opts.steps) args.push("-steps", opts.steps.join(","));
  if (opts.startTimeout) args.push("-start-timeout", opts.startTimeout);
  if (opts.service) args.push("-service", opts.service);
  for (const [k, v] of Object.entries(opts.annotations ?? {})) args.push("-annotation", `${k}=${v}`);
  return runGoPeerJson<ShimStep>(args, timeoutMs);
}

/** Latency percentiles (microseconds) of sequential unary calls from the Go client, as `bench-client` prints. */
export interface GoBenchResult {
  n: number;
  payloadSize: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
  /** The measured calls' time together. */
  totalMs: number;
  errors: number;
}

export interface GoBenchOptions {
  n: number;
  payloadSize?: number;
  warmup?: number;
  service?: string;
  method?: string;
}

export async function goBenchClient(socket: string, opts: GoBenchOptions): Promise<GoBenchResult> {
  const [result] = await goBenchClients([socket], opts);
  return result;
}

/**
 * One client on each socket, making its calls in turn with the others' (a call on the first, one on
 * the second, …), so that every path is measured over the same moments: on a machine whose load
 * comes and goes, the paths' differences are then their own, not the moments'. A result per socket.
 */
export async function goBenchClients(sockets: string[], opts: GoBenchOptions): Promise<GoBenchResult[]> {
  if (sockets.some((s) => s.includes(",")))
    throw new Error(`bench-client: a socket path with a comma: ${sockets.join(" ")}`);
  const args = ["bench-client", "-socket", sockets.join(","), "-n", String(opts.n)];
  if (opts.payloadSize !== undefined) args.push("-payload-size", String(opts.payloadSize));
  if (opts.warmup !== undefined) args.push("-warmup", String(opts.warmup));
  if (opts.service) args.push("-service", opts.service);
  if (opts.method) args.push("-method", opts.method);
  const results = await runGoPeerJson<GoBenchResult>(args, 300_000);
  if (results.length !== sockets.length) {
    throw new Error(`bench-client: ${results.length} results for ${sockets.length} sockets`);
  }
  return results;
}

export interface GoProcess {
  pid: number;
  stop(): Promise<void>;
}

/** Starts `ttrpcpeer <args>` and resolves once it prints "ready" (e.g. the Go test.Echo server). */
export async function startGoPeer(args: string[], readyTimeoutMs = 10_000): Promise<GoProcess> {
  const bin = await buildGoPeer();
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  teeChild(child, `go-peer-${args[0] ?? ""}`);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      kill(child);
      reject(new Error(`go-peer ${args[0]}: not ready after ${readyTimeoutMs} ms: ${stderr}`));
    }, readyTimeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`go-peer ${args[0]} exited (${code}) before ready: ${stderr}`));
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    pid: child.pid!,
    async stop() {
      kill(child, "SIGTERM");
      const timer = setTimeout(() => kill(child, "SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The Go test.Echo server (also the benchmark baseline server). */
export function startGoServer(socket: string): Promise<GoProcess> {
  return startGoPeer(["server", "-socket", socket]);
}

function kill(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}
