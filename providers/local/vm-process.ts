// The local VM's "hardware": one detached process group per VM. Detached so that it outlives a
// daemon restart, as a cloud VM would; identified by pid + start time so a reused pid is not
// mistaken for it.
import { spawn } from "node:child_process";
import { open, readdir, readFile } from "node:fs/promises";

export interface VmProcess {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot). */
  startTime: string;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces), or undefined. */
async function procStat(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

async function startTimeOf(pid: number): Promise<string | undefined> {
  return (await procStat(pid))?.[19];
}

export async function isAlive(p: VmProcess): Promise<boolean> {
  const fields = await procStat(p.pid);
  return fields !== undefined && fields[19] === p.startTime && fields[0] !== "Z";
}

export async function spawnVm(
  argv: string[],
  consoleLog: string,
  env: NodeJS.ProcessEnv,
): Promise<VmProcess> {
  const out = await open(consoleLog, "a", 0o600);
  try {
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ["ignore", out.fd, out.fd], env });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid!));
      child.once("error", reject);
    });
    child.unref();
    const startTime = await startTimeOf(pid);
    if (startTime === undefined) throw new Error(`VM process ${pid} exited at once; see ${consoleLog}`);
    return { pid, startTime };
  } finally {
    await out.close();
  }
}

/**
 * Live processes with `dir` or a path under it as one of their arguments: the VM's process (its
 * --cidata), and the kata agent it started (its --socket), which outlives a VM process killed alone.
 */
export async function processesUnder(dir: string): Promise<VmProcess[]> {
  const found: VmProcess[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.split("\0").some((a) => a === dir || a.startsWith(`${dir}/`))) continue;
    const startTime = await startTimeOf(Number(name));
    if (startTime !== undefined) found.push({ pid: Number(name), startTime });
  }
  return found;
}

/** SIGTERM the VM's process group, then SIGKILL after a grace period. */
export async function killVm(p: VmProcess, graceMs = 5000): Promise<void> {
  if (!(await isAlive(p))) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-p.pid, sig);
    } catch {
      try {
        process.kill(p.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(p))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  signal("SIGKILL");
  for (let i = 0; i < 100 && (await isAlive(p)); i++) await new Promise((r) => setTimeout(r, 20));
}
