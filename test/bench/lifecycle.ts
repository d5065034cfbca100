// Lifecycle benchmarks. (1) Daemon overhead: the real RPC edge, lifecycle, durable store and
// user-data rendering, with an instant in-memory provider and no VM, so only the daemon's own work
// is timed. (2) The whole local lifecycle through `caa serve`: a VM namespace booting the forwarder,
// the mTLS agent connection, and teardown — the time a pod waits on this host.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/log/logger.ts";
import { SandboxManager } from "../../src/sandbox/manager.ts";
import { SandboxStore } from "../../src/sandbox/store.ts";
import { HypervisorService } from "../../src/hypervisor/service.ts";
import { hypervisorTtrpcServer } from "../../src/hypervisor/ttrpc.ts";
import { createVM, startVM, stopVM, podAnnotations } from "../../src/cli/sandbox.ts";
import { FakeProvider } from "../helpers/fake-provider.ts";
import { cleanupDaemon, daemonEnv, makeDaemonDir, startDaemon } from "../helpers/daemon.ts";
import { summarize, timedPool, type Summary } from "./stats.ts";

function sandboxId(run: string, i: number): string {
  return `${run}${i.toString(16).padStart(6, "0")}`.padEnd(64, "0");
}

/** One lifecycle as the Go shim drives it: a connection per call. */
async function lifecycle(socket: string, id: string): Promise<void> {
  const o = { socket };
  await createVM(o, id, podAnnotations("bench", "default"), "");
  await startVM(o, id);
  await stopVM(o, id);
}

/**
 * `stateOn`: "tmpfs" as in production (/run/peerpod is tmpfs on a node; the state only has to
 * outlive the daemon, not the node) or "disk" (every transition pays an fsync on the disk).
 */
export async function benchDaemonOverhead(
  n: number,
  concurrency: number,
  stateOn: "tmpfs" | "disk",
): Promise<Summary> {
  const dir = await mkdtemp(join(stateOn === "tmpfs" ? "/dev/shm" : tmpdir(), "caa-b-"));
  const manager = new SandboxManager({
    // Instant: no delay, no VM; only the daemon's own work is timed.
    provider: new FakeProvider({
      name: "instant",
      types: [{ name: "i.small", vcpus: 2, memoryMiB: 4096, gpus: 0 }],
      idPrefix: "i-",
      ip: () => "192.0.2.9",
    }),
    store: await SandboxStore.open(join(dir, "s")),
    logger: silentLogger(),
    config: { podsDir: join(dir, "p"), cluster: "bench", node: "n", initdata: "", enableScratchSpace: false },
  });
  const server = hypervisorTtrpcServer(new HypervisorService(manager, silentLogger()));
  const socket = join(dir, "hv.sock");
  await server.listen(socket);
  try {
    const run = `o${concurrency}`;
    await timedPool(20, concurrency, (i) => lifecycle(socket, sandboxId(`${run}w`, i)));
    return summarize(await timedPool(n, concurrency, (i) => lifecycle(socket, sandboxId(run, i))));
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchLocalLifecycle(n: number, concurrency: number): Promise<Summary> {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, { LOG_LEVEL: "warn", LOCAL_VM_SUBNET: "198.51.100.0/24" });
  const daemon = await startDaemon(dir, env);
  try {
    const run = `l${concurrency}`;
    return summarize(await timedPool(n, concurrency, (i) => lifecycle(daemon.socket, sandboxId(run, i))));
  } finally {
    await daemon.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
}
