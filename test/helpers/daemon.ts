// Runs `caa serve` as a child process on private paths, as CI and a user would, and tears down
// what it made (VM namespaces, the local bridge) afterwards.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

import { isRoot } from "./requires.ts";
import { keepLogsUnder, teeChild } from "./test-logs.ts";

export { isRoot };

export interface DaemonProcess {
  dir: string;
  socket: string;
  grpcSocket: string;
  podsDir: string;
  stateDir: string;
  bridge: string;
  env: Record<string, string>;
  child: ChildProcess;
  /** Everything the daemon wrote to stdout and stderr so far. */
  logs(): string;
  /** Send a signal and wait for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A /28 of 203.0.113.0/24 (documentation range) per daemon that no interface of this host uses
 * now, so concurrent tests don't collide (the local provider refuses a range the host uses).
 */
function testSubnet(): string {
  const used = new Set<number>();
  const out = isRoot ? execFileSync("ip", ["-j", "-4", "addr", "show"], { encoding: "utf8" }) : "[]";
  for (const link of JSON.parse(out) as { addr_info?: { local: string }[] }[]) {
    for (const a of link.addr_info ?? []) {
      if (a.local.startsWith("203.0.113.")) used.add(Math.floor(Number(a.local.split(".")[3]) / 16));
    }
  }
  const start = randomBytes(1)[0] % 16;
  for (let i = 0; i < 16; i++) {
    const k = (start + i) % 16;
    if (!used.has(k)) return `203.0.113.${k * 16}/28`;
  }
  throw new Error("every /28 of 203.0.113.0/24 is in use on this host");
}

import { freePort } from "./ports.ts";
export { freePort };

/** A temp dir for a daemon's sockets and state; `base` e.g. /dev/shm for tmpfs, as /run/peerpod on a node. */
export async function makeDaemonDir(base = tmpdir()): Promise<string> {
  return mkdtemp(join(base, "caa-"));
}

export function daemonEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REMOTE_HYPERVISOR_ENDPOINT: join(dir, "hv.sock"),
    REMOTE_HYPERVISOR_GRPC_ENDPOINT: join(dir, "hv-grpc.sock"),
    PODS_DIR: join(dir, "pods"),
    STATE_DIR: join(dir, "state"),
    PROBE_PORT: "0",
    LEAK_INTERVAL: "0",
    LOCAL_BRIDGE: `caat${randomBytes(3).toString("hex")}`,
    LOCAL_VM_SUBNET: testSubnet(),
    // Per-daemon names, so tests running side by side only see their own VMs.
    LOCAL_NETNS_PREFIX: `cvm${randomBytes(2).toString("hex")}-`,
    LOG_LEVEL: "debug",
    ...extra,
  };
}

/** The daemon's log line once every recorded sandbox is recovered (src/sandbox/manager.ts). */
export const RECOVERED = "recovered sandboxes from the state directory";

async function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Start `caa serve` with env (see daemonEnv) and resolve once its ttrpc socket accepts connections
 * and it has recovered the sandboxes of its state directory (it serves during recovery; pass
 * `recovered: false` to return as soon as the socket accepts).
 */
export async function startDaemon(
  dir: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
  opts: {
    netns?: string;
    args?: string[];
    recovered?: boolean;
    /** Another `caa` entry, e.g. a build's main.js. */ cli?: string;
    /** Node flags before the entry, e.g. the image shim's (test/helpers/image.ts). */
    nodeArgs?: string[];
    cwd?: string;
  } = {},
): Promise<DaemonProcess> {
  const cli = opts.cli ?? CLI;
  let output = "";
  // nsenter execs the command, so the child's pid is the daemon's; unlike `ip netns exec` it keeps
  // the host's mount namespace, so namespaces the daemon names stay visible to the test.
  const argv = opts.netns
    ? [
        "nsenter",
        `--net=/run/netns/${opts.netns}`,
        "--",
        process.execPath,
        ...(opts.nodeArgs ?? []),
        cli,
        "serve",
        ...(opts.args ?? []),
      ]
    : [process.execPath, ...(opts.nodeArgs ?? []), cli, "serve", ...(opts.args ?? [])];
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, ...env },
    cwd: opts.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  teeChild(child, "caa-serve");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const socket = env.REMOTE_HYPERVISOR_ENDPOINT;
  // The line is logged at info: a quieter daemon is only waited for until it listens.
  const awaitRecovery = opts.recovered !== false && !["warn", "error"].includes(env.LOG_LEVEL ?? "info");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`caa serve exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    }
    const recovered = !awaitRecovery || output.includes(RECOVERED);
    if (recovered && (await stat(socket).catch(() => undefined)) && (await canConnect(socket))) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`caa serve did not listen on ${socket} within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    socket,
    grpcSocket: env.REMOTE_HYPERVISOR_GRPC_ENDPOINT ?? "",
    podsDir: env.PODS_DIR,
    stateDir: env.STATE_DIR,
    bridge: env.LOCAL_BRIDGE ?? "",
    env,
    child,
    logs: () => output,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Network namespaces of local VMs (not their pod namespaces) with this prefix that exist now. */
export function vmNamespaces(prefix: string): string[] {
  if (!isRoot) return [];
  const out = execFileSync("ip", ["-j", "netns", "list"], { encoding: "utf8" }).trim();
  if (out === "") return [];
  return (JSON.parse(out) as { name: string }[])
    .map((n) => n.name)
    .filter((n) => n.startsWith(prefix) && !n.endsWith("-pod"));
}

/** Processes whose command line mentions `text` (e.g. a daemon's state dir), excluding this one. */
export function processesMentioning(text: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((l) => l.includes(text))
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((pid) => pid !== process.pid && Number.isFinite(pid));
}

/**
 * Remove what a test daemon left: VMs still recorded by its local provider (a failed test may
 * stop the daemon with VMs running, and VMs outlive daemons by design), its bridge, its temp dir.
 */
export async function cleanupDaemon(d: { dir: string; bridge: string }): Promise<void> {
  for (const pid of processesMentioning(d.dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  if (isRoot) {
    const records = join(d.dir, "state", "provider-local");
    const names = await readdir(records).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const rec = JSON.parse(await readFile(join(records, name), "utf8")) as { netns?: string };
      for (const ns of rec.netns ? [rec.netns, `${rec.netns}-pod`] : []) {
        try {
          execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
        } catch {
          /* not there */
        }
      }
    }
    if (d.bridge) {
      try {
        execFileSync("ip", ["link", "del", d.bridge], { stdio: "ignore" });
      } catch {
        /* not there */
      }
    }
  }
  await keepLogsUnder(d.dir, "daemon-dir");
  await rm(d.dir, { recursive: true, force: true });
}

/** A daemon in a fresh directory with its ops endpoint on a free port; `stop` kills and cleans up. */
export async function startDaemonWithOps(
  extra: Record<string, string>,
): Promise<{ daemon: DaemonProcess; ops: string; stop: () => Promise<void> }> {
  const dir = await makeDaemonDir();
  const port = await freePort();
  const daemon = await startDaemon(dir, daemonEnv(dir, { PROBE_PORT: String(port), ...extra }));
  return {
    daemon,
    ops: `http://127.0.0.1:${port}`,
    stop: async () => {
      await daemon.kill("SIGTERM");
      await cleanupDaemon({ dir, bridge: daemon.bridge });
    },
  };
}

/** Polls `fn` every 100 ms until it gives a value. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
