// AWS burst through the daemon: `caa serve` on the aws provider against moto (through the counting
// proxy), n sandboxes' CreateVM + StartVM + StopVM at once over its ttrpc socket, and the daemon
// process's CPU (utime + stime of all its threads, /proc/<pid>/stat) divided by n, also per group
// of threads (/proc/<pid>/task/*/stat: the main thread, libuv's thread pool, V8's workers). Cloud
// "VMs" run nothing, so this process plays every pod VM's forwarder (stand-in-forwarder.ts); its
// CPU is not counted.
import { spawnSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { createVM, podAnnotations, startVM, stopVM } from "../../src/cli/sandbox.ts";
import { cleanupDaemon, daemonEnv, freePort, makeDaemonDir, startDaemon } from "../helpers/daemon.ts";
import { benchAwsBurst, type AwsBurstResult } from "./aws-burst.ts";
import { standInForwarder, startAgentStandIn, type StandInForwarder } from "./stand-in-forwarder.ts";
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** utime + stime from a /proc stat line (a process's: all its threads; a task's: that thread), µs. */
function statCpuMicros(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1e6;
}

async function processCpuMicros(pid: number): Promise<number> {
  return statCpuMicros(await readFile(`/proc/${pid}/stat`, "utf8"));
}

/** Thread names Node gives its threads (comm), grouped as the bench reports them. */
function threadGroup(comm: string): string {
  if (comm === "libuv-worker") return "thread pool";
  if (comm.startsWith("V8") || comm === "DelayedTaskSche") return "V8 workers";
  return comm === "MainThread" || comm === "node" ? "main" : "other";
}

/** utime + stime per thread group of a process, µs. A thread that exited is no longer counted. */
async function threadCpuMicros(pid: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => "");
    if (stat === "") continue;
    const group = threadGroup(stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
    out[group] = (out[group] ?? 0) + statCpuMicros(stat);
  }
  return out;
}

function sandboxId(i: number): string {
  return `aw${(i + 1).toString(16).padStart(6, "0")}`.padEnd(64, "0");
}

/**
 * `cli`: the `caa` entry the daemon runs (default the sources; the bench passes the build output).
 * `stateOn`: where its state directory (and sockets) live: "disk" (the machine's temp dir) or "tmpfs"
 * (/dev/shm), as the default /run/peerpod is on a node. `again`: a second burst in the same daemon.
 * `providerEnv`: settings over the bench's, e.g. AWS_LEAN_EC2_CALLS=false.
 */
export async function benchAwsDaemonBurst(
  n: number,
  cli?: string,
  stateOn: "disk" | "tmpfs" = "disk",
  again = false,
  providerEnv: Record<string, string> = {},
): Promise<AwsBurstResult> {
  const dir = await makeDaemonDir(stateOn === "tmpfs" ? "/dev/shm" : undefined);
  const agentSocket = path.join(dir, "agent.sock");
  const agent = await startAgentStandIn(agentSocket);
  let forwarder: StandInForwarder | undefined;
  try {
    return await benchAwsBurst({
      n,
      again,
      env: providerEnv,
      async makeLifecycle(ctx) {
        const port = await freePort();
        const env = daemonEnv(dir, {
          CLOUD_PROVIDER: "aws",
          ...ctx.env,
          FORWARDER_HOST: "127.0.0.1",
          FORWARDER_PORT: String(port),
          LOG_LEVEL: "info",
        });
        const daemon = await startDaemon(dir, env, 60_000, { cli });
        forwarder = await standInForwarder(env.STATE_DIR, port, agentSocket);
        const o = { socket: daemon.socket };
        const pid = daemon.child.pid!;
        return {
          async create(i) {
            await createVM(o, sandboxId(i), podAnnotations(`burst${i + 1}`, "default"), "");
            await startVM(o, sandboxId(i));
          },
          delete: (i) => stopVM(o, sandboxId(i)),
          cpuMicros: () => processCpuMicros(pid),
          threadCpuMicros: () => threadCpuMicros(pid),
          async close() {
            await forwarder?.close();
            await daemon.kill("SIGTERM");
          },
        };
      },
    });
  } finally {
    await forwarder?.close();
    agent.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: "" });
  }
}

if (import.meta.main) {
  const stateOn = process.argv[3] === "tmpfs" ? "tmpfs" : "disk";
  const r = await benchAwsDaemonBurst(Number(process.argv[2] ?? 100), undefined, stateOn);
  console.log(
    `daemon CPU per sandbox ${r.cpuMsPerSandbox.toFixed(2)} ms; wall ${r.wallMs.toFixed(0)} ms; ` +
      `EC2 calls per sandbox ${r.ec2CallsPerSandbox.toFixed(2)}; failed ${r.failed}; ${JSON.stringify(r.callsByAction)}`,
  );
}
