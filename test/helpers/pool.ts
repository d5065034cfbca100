// What the warm-pool tests read from a running `caa serve`: its pool (GET /v1/pool), the local
// provider's VM records (what the "cloud" holds), and a poll loop.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";

export interface PoolVm {
  slot: string;
  state: string;
  instanceId?: string;
  ips: string[];
  name: string;
  createdAt: string;
}

export async function poolVms(ops: string): Promise<PoolVm[]> {
  const res = await fetch(`${ops}/v1/pool`);
  return ((await res.json()) as { vms: PoolVm[] }).vms;
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The ops endpoint comes up just after the hypervisor socket.
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves once the pool has at least n ready VMs, with them. */
export function readyPoolVms(ops: string, n: number, timeoutMs?: number): Promise<PoolVm[]> {
  return until(
    `${n} ready pooled VMs`,
    async () => {
      const vms = (await poolVms(ops)).filter((v) => v.state === "ready");
      return vms.length >= n ? vms : undefined;
    },
    timeoutMs,
  );
}

export interface LocalVmRecord {
  id: string;
  name: string;
  tags: Record<string, string>;
  netns?: string;
  hostVeth?: string;
  process?: { pid: number; startTime: string };
}

/** The local provider's VM records under the daemon's state directory. */
export async function localVms(stateDir: string): Promise<LocalVmRecord[]> {
  const dir = join(stateDir, "provider-local");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".json"));
  return Promise.all(
    names.map(async (n) => JSON.parse(await readFile(join(dir, n), "utf8")) as LocalVmRecord),
  );
}
