// Warm pool benchmark: `caa serve` on the local provider with LOCAL_BOOT_DELAY=30s standing in for
// a cloud VM's boot. StartVM on a pool hit (claim + bind + tunnel + agent connect) beside the cold
// path (create + 30 s boot + agent connect), and one whole `caa sandbox run` on a hit.
import { randomBytes } from "node:crypto";
import { createVM, podAnnotations, runLifecycle, startVM, stopVM } from "../../src/cli/sandbox.ts";
import { cleanupDaemon, daemonEnv, freePort, makeDaemonDir, startDaemon } from "../helpers/daemon.ts";
import { summarize, type Summary } from "./stats.ts";

export interface PoolBench {
  hit: Summary;
  cold: Summary;
  /** Whole `caa sandbox run` (CreateVM → StartVM → Health → StopVM) on a hit, ms. */
  sandboxRunMs: number;
  sandboxRunHit: boolean;
}

const BOOT_DELAY = "30s";

async function waitReady(ops: string, n: number): Promise<void> {
  for (;;) {
    const body = (await fetch(`${ops}/v1/pool`)
      .then((r) => r.json())
      .catch(() => ({ vms: [] }))) as { vms: { state: string }[] };
    if (body.vms.filter((v) => v.state === "ready").length >= n) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function timedStart(socket: string): Promise<number> {
  const id = randomBytes(32).toString("hex");
  await createVM({ socket }, id, podAnnotations("bench", "default"), "");
  const t0 = performance.now();
  await startVM({ socket }, id);
  const ms = performance.now() - t0;
  await stopVM({ socket }, id);
  return ms;
}

export async function benchPool(hits = 10, colds = 3): Promise<PoolBench> {
  const dir = await makeDaemonDir();
  const port = await freePort();
  const ops = `http://127.0.0.1:${port}`;
  const env = daemonEnv(dir, {
    LOG_LEVEL: "warn",
    LOCAL_VM_SUBNET: "198.51.100.0/24",
    LOCAL_BOOT_DELAY: BOOT_DELAY,
    PROBE_PORT: String(port),
    POOL_SIZE: String(hits),
    POOL_REFILL_CONCURRENCY: String(hits),
  });
  const daemon = await startDaemon(dir, env);
  try {
    await waitReady(ops, hits);
    const hitMs: number[] = [];
    for (let i = 0; i < hits; i++) hitMs.push(await timedStart(daemon.socket));

    await waitReady(ops, 1);
    const lines: string[] = [];
    const t0 = performance.now();
    await runLifecycle(
      { socket: daemon.socket, adminUrl: ops, out: (s) => lines.push(s) },
      { pod: "bench", namespace: "default", netns: "", annotations: {} },
    );
    const sandboxRunMs = performance.now() - t0;

    // Cold: the same daemon with its pool emptied (DELETE /v1/pool stops the refill).
    await fetch(`${ops}/v1/pool`, { method: "DELETE" });
    const coldMs = await Promise.all(Array.from({ length: colds }, () => timedStart(daemon.socket)));
    return {
      hit: summarize(hitMs),
      cold: summarize(coldMs),
      sandboxRunMs,
      sandboxRunHit: lines.some((l) => l.includes("warm pool: hit")),
    };
  } finally {
    await daemon.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
}
