// Starts moto's EC2 server (reference/testbed.md) on a free 127.0.0.1 port with AMI and
// instance-type validation on, and stops it by PID.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./ports.ts";

export interface Moto {
  url: string;
  port: number;
  pid: number;
  /** Drop all state (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

let cachedPython: string | null | undefined;

/** The Python interpreter that has moto: $MOTO_PYTHON, else one of pyenv's versions. */
export function findMotoPython(): string | undefined {
  if (cachedPython !== undefined) return cachedPython ?? undefined;
  const candidates: string[] = [];
  if (process.env.MOTO_PYTHON) candidates.push(process.env.MOTO_PYTHON);
  const root = process.env.PYENV_ROOT ?? join(homedir(), ".pyenv");
  try {
    for (const v of readdirSync(join(root, "versions")).sort().reverse())
      candidates.push(join(root, "versions", v, "bin", "python3"));
  } catch {
    // no pyenv
  }
  candidates.push("python3");
  cachedPython =
    candidates.find((p) => spawnSync(p, ["-c", "import moto"], { stdio: "ignore" }).status === 0) ?? null;
  return cachedPython ?? undefined;
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
  const python = findMotoPython();
  if (!python) throw new Error("no Python with moto found (set MOTO_PYTHON); see reference/testbed.md");
  let lastErr: unknown;
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(python, ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
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
