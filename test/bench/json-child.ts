// A bench part run in a process of its own (fresh code, its own CPU counters): node runs `script`
// with `args`, and the last line the child prints is its result as JSON.
import { spawn } from "node:child_process";
import { once } from "node:events";

export async function runJsonChild<T>(script: string, args: string[], what: string): Promise<T> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`bench: ${what} exited with ${code}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as T;
}
