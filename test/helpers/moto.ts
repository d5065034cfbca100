// Starts moto's EC2 server (docs/testing.md) on a free 127.0.0.1 port with AMI and
// instance-type validation on, and stops it by PID.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./ports.ts";
import { requirement } from "./requires.ts";

export interface Moto {
  url: string;
  port: number;
  pid: number;
  /** Drop all state (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

let cached: string[] | null | undefined;

/**
 * How to start moto's server: $MOTO_PYTHON -m moto.server, else `moto_server` on PATH, else a
 * `python3` on PATH that has moto. Only PATH is searched, so hiding moto from PATH hides it
 * (scripts/test puts pyenv's interpreter on PATH when moto is there).
 */
export function findMoto(): string[] | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const works = (argv: string[]): boolean =>
    spawnSync(argv[0], [...argv.slice(1), "--help"], { stdio: "ignore" }).status === 0;
  const candidates: string[][] = [];
  if (process.env.MOTO_PYTHON) candidates.push([process.env.MOTO_PYTHON, "-m", "moto.server"]);
  candidates.push(["moto_server"], ["python3", "-m", "moto.server"]);
  cached = candidates.find(works) ?? null;
  return cached ?? undefined;
}

/** Skip reason for tests that need moto (a failure under CI=true), or false. */
export function needsMoto(): false | string {
  return requirement(
    "moto",
    findMoto() !== undefined,
    "moto_server, or a python3 with moto, on PATH; or MOTO_PYTHON=<python with moto>",
  );
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`moto did not answer GET /moto-api/ within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!killed && child.pid !== undefined) {
    process.kill(child.pid, "SIGKILL");
    await exited;
  }
}

export async function startMoto(opts: { timeoutMs?: number } = {}): Promise<Moto> {
  const moto = findMoto();
  if (!moto) throw new Error("moto not found: put moto_server on PATH or set MOTO_PYTHON");
  let lastErr: unknown;
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(moto[0], [...moto.slice(1), "-H", "127.0.0.1", "-p", String(port)], {
      env: {
        ...process.env,
        MOTO_ENABLE_AMI_VALIDATION: "true",
        MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION: "true",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const onExit = (): void => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    };
    process.once("exit", onExit);
    try {
      await waitReady(url, child, opts.timeoutMs ?? 60_000);
    } catch (err) {
      lastErr = new Error(`${(err as Error).message}\n${stderr}`);
      await stopChild(child);
      process.removeListener("exit", onExit);
      continue;
    }
    child.stderr?.removeAllListeners("data");
    child.stderr?.resume();
    return {
      url,
      port,
      pid: child.pid ?? 0,
      async reset() {
        const res = await fetch(`${url}/moto-api/reset`, { method: "POST" });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`moto reset: HTTP ${res.status}`);
      },
      async stop() {
        await stopChild(child);
        process.removeListener("exit", onExit);
      },
    };
  }
  throw lastErr;
}

export { freePort };
