// AWS burst: n sandboxes created and deleted concurrently against moto, through the fault proxy
// with no faults so that it counts the EC2 calls. Reports wall time, create/delete latency,
// EC2 API calls per sandbox (by action) and CPU time per sandbox. The proxy runs as its own
// process, so the CPU figure is this process's (the provider and SDK) unless the lifecycle
// reports another process's CPU (a daemon).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createAwsProvider } from "../../providers/aws/index.ts";
import type { Provider } from "../../providers/types.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { createRequest } from "../helpers/aws-requests.ts";
import { awsEnv, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";
import { startMoto } from "../helpers/moto.ts";
import { runJsonChild } from "./json-child.ts";
import { summarize, type Summary } from "./stats.ts";

export interface BurstLifecycle {
  /** Create sandbox i's VM (e.g. CreateVM + StartVM through a daemon). */
  create(i: number): Promise<void>;
  /** Delete it again (e.g. StopVM). */
  delete(i: number): Promise<void>;
  /** CPU time in µs of the process doing the work; default: this process. */
  cpuMicros?(): number | Promise<number>;
  /** The same, per group of that process's threads (e.g. main, thread pool, V8 workers). */
  threadCpuMicros?(): Promise<Record<string, number>>;
  close?(): Promise<void>;
}

export interface AwsBurstContext {
  /** Provider env pointing at the counting proxy (AWS_ENDPOINT, AMI, subnet, SG, keys). */
  env: Record<string, string>;
  motoUrl: string;
  /** A started provider on that env. */
  provider(): Promise<Provider>;
}

export interface AwsBurstOptions {
  n: number;
  /** Default: provider.create + provider.delete in this process. */
  makeLifecycle?: (ctx: AwsBurstContext) => BurstLifecycle | Promise<BurstLifecycle>;
  /** A second burst of n in the same lifecycle (process) after the first: its CPU once warm. */
  again?: boolean;
  /** Provider settings over the bench's, e.g. AWS_LEAN_EC2_CALLS=false. */
  env?: Record<string, string>;
}

export interface AwsBurstResult {
  n: number;
  failed: number;
  wallMs: number;
  create: Summary;
  delete: Summary;
  ec2CallsPerSandbox: number;
  callsByAction: Record<string, number>;
  /** Failed attempts seen by providers made through ctx.provider(), as "Operation:code". */
  failedAttempts: Record<string, number>;
  cpuMsPerSandbox: number;
  /** cpuMsPerSandbox per thread group, when the lifecycle reports them. */
  threadCpuMsPerSandbox?: Record<string, number>;
  /** The second burst (`again`); the figures above are the first's. */
  again?: { failed: number; cpuMsPerSandbox: number; threadCpuMsPerSandbox?: Record<string, number> };
}

export interface ProxyProcess {
  url: string;
  counts(): Promise<Record<string, number>>;
  /** Calls the proxy's EC2 buckets refused, per Action. */
  throttled(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** The fault proxy as its own process; `args` e.g. ["--ec2-buckets"]. */
export async function startProxyProcess(target: string, args: string[] = []): Promise<ProxyProcess> {
  const script = fileURLToPath(new URL("../helpers/fault-proxy.ts", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script, "--target", target, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await once(lines, "line")) as [string];
  lines.close();
  const { url } = JSON.parse(first) as { url: string };
  const read = async () =>
    (await (await fetch(`${url}/__proxy/counts`)).json()) as Record<
      "counts" | "throttled",
      Record<string, number>
    >;
  return {
    url,
    counts: async () => (await read()).counts,
    throttled: async () => (await read()).throttled,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
      await exited;
    },
  };
}

export function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

function defaultLifecycle(provider: Provider): BurstLifecycle {
  const ids = new Map<number, string>();
  return {
    async create(i) {
      ids.set(i, (await provider.create(createRequest({ owner: { node: "bench" } }))).id);
    },
    async delete(i) {
      const id = ids.get(i);
      if (id) await provider.delete(id);
    },
  };
}

interface BurstRun {
  failed: number;
  wallMs: number;
  createMs: number[];
  deleteMs: number[];
  cpuMsPerSandbox: number;
  threadCpuMsPerSandbox?: Record<string, number>;
}

/** n lifecycles at once, sandboxes first..first+n-1, and the CPU they cost. */
async function burst(
  lc: BurstLifecycle,
  n: number,
  first: number,
  cpu: () => Promise<number>,
): Promise<BurstRun> {
  const threads0 = await lc.threadCpuMicros?.();
  const cpu0 = await cpu();
  const createMs: number[] = [];
  const deleteMs: number[] = [];
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, k) => {
      const i = first + k;
      try {
        const a = performance.now();
        await lc.create(i);
        const b = performance.now();
        await lc.delete(i);
        createMs.push(b - a);
        deleteMs.push(performance.now() - b);
      } catch {
        failed++;
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpuMicros = (await cpu()) - cpu0;
  const threads = threads0 && delta((await lc.threadCpuMicros?.()) ?? {}, threads0);
  return {
    failed,
    wallMs,
    createMs,
    deleteMs,
    cpuMsPerSandbox: cpuMicros / 1000 / n,
    ...(threads && {
      threadCpuMsPerSandbox: Object.fromEntries(
        Object.entries(threads).map(([group, us]) => [group, us / 1000 / n]),
      ),
    }),
  };
}

export async function benchAwsBurst(opts: AwsBurstOptions): Promise<AwsBurstResult> {
  const moto = await startMoto();
  const direct = motoClient(moto.url);
  const providers: Provider[] = [];
  const failedAttempts: Record<string, number> = {};
  let counting = false;
  const onCloudCall = (_p: string, op: string, outcome: string): void => {
    if (counting && outcome !== "ok")
      failedAttempts[`${op}:${outcome}`] = (failedAttempts[`${op}:${outcome}`] ?? 0) + 1;
  };
  let proxy: ProxyProcess | undefined;
  try {
    const world = await seedWorld(direct);
    proxy = await startProxyProcess(moto.url);
    // The provider's own cost: moto has no request buckets here, so neither has the client
    // (test/bench/aws-budget.ts measures bursts paced by EC2's buckets).
    const env = awsEnv(proxy.url, world, { AWS_API_RATE_LIMIT: "off", ...opts.env });
    const ctx: AwsBurstContext = {
      env,
      motoUrl: moto.url,
      async provider() {
        const p = await createAwsProvider(env, {
          logger: silentLogger(),
          stateDir: "/nonexistent",
          onCloudCall,
        });
        providers.push(p);
        await p.start({ verify: false });
        return p;
      },
    };
    const lc = opts.makeLifecycle ? await opts.makeLifecycle(ctx) : defaultLifecycle(await ctx.provider());
    // moto loads its EC2 code paths lazily (1-6 s on the first calls): one lifecycle before timing.
    await lc.create(-1);
    await lc.delete(-1);

    const cpu = async () =>
      lc.cpuMicros ? await lc.cpuMicros() : process.cpuUsage().user + process.cpuUsage().system;
    const before = await proxy.counts();
    counting = true;
    const first = await burst(lc, opts.n, 0, cpu);
    counting = false;
    const callsByAction = delta(await proxy.counts(), before);
    const calls = Object.values(callsByAction).reduce((a, b) => a + b, 0);
    const again = opts.again ? await burst(lc, opts.n, opts.n, cpu) : undefined;
    await lc.close?.();
    return {
      n: opts.n,
      failed: first.failed,
      wallMs: first.wallMs,
      create: summarize(first.createMs),
      delete: summarize(first.deleteMs),
      ec2CallsPerSandbox: calls / opts.n,
      callsByAction,
      failedAttempts,
      cpuMsPerSandbox: first.cpuMsPerSandbox,
      ...(first.threadCpuMsPerSandbox && { threadCpuMsPerSandbox: first.threadCpuMsPerSandbox }),
      ...(again && {
        again: {
          failed: again.failed,
          cpuMsPerSandbox: again.cpuMsPerSandbox,
          threadCpuMsPerSandbox: again.threadCpuMsPerSandbox,
        },
      }),
    };
  } finally {
    for (const p of providers) await p.close();
    direct.destroy();
    await proxy?.stop();
    await moto.stop();
  }
}

/**
 * The provider level in a process of its own, as each daemon round gets a new daemon: in the
 * bench's process the provider's code would stay compiled and warm from one round to the next.
 */
export async function benchAwsBurstInFreshProcess(
  n: number,
  again = false,
  env: Record<string, string> = {},
): Promise<AwsBurstResult> {
  const args = [String(n), "--json", ...(again ? ["--again"] : []), "--env", JSON.stringify(env)];
  return runJsonChild<AwsBurstResult>(fileURLToPath(import.meta.url), args, "provider burst");
}

if (import.meta.main && process.argv.includes("--json")) {
  const env = JSON.parse(process.argv[process.argv.indexOf("--env") + 1] ?? "{}") as Record<string, string>;
  const r = await benchAwsBurst({ n: Number(process.argv[2]), again: process.argv.includes("--again"), env });
  console.log(JSON.stringify(r));
} else if (import.meta.main) {
  const n = Number(process.argv[2] ?? 100);
  const r = await benchAwsBurst({ n });
  const f = (v: number) => v.toFixed(1);
  console.log(
    `## AWS burst: ${r.n} sandboxes created and deleted concurrently against moto (provider level)`,
  );
  console.log(
    "| wall | create p50 / p99 | delete p50 / p99 | EC2 calls per sandbox | CPU per sandbox | failed |",
  );
  console.log("|---|---|---|---|---|---|");
  console.log(
    `| ${f(r.wallMs)} ms | ${f(r.create.p50)} / ${f(r.create.p99)} ms | ${f(r.delete.p50)} / ${f(r.delete.p99)} ms | ` +
      `${r.ec2CallsPerSandbox.toFixed(2)} | ${r.cpuMsPerSandbox.toFixed(2)} ms | ${r.failed} |`,
  );
  console.log(
    `calls by action: ${JSON.stringify(r.callsByAction)}; failed attempts: ${JSON.stringify(r.failedAttempts)}`,
  );
}
