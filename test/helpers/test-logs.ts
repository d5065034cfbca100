// What the tests' child processes log is kept for the secret scan that ends a test run
// (scripts/test sets CAA_TEST_LOG_DIR and scans it with test/helpers/scan-test-logs.ts): each
// daemon, forwarder, webhook and Go peer output is teed to a file there, and the logs a test dir
// holds (a local VM's console.log) are copied there before the dir is removed. Unset, nothing is
// kept and the output is still drained.
import type { ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { copyFile, readdir } from "node:fs/promises";
import path from "node:path";

let counter = 0;

function logPath(name: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_");
  return path.join(dir, `${safe}-${process.pid}-${++counter}.log`);
}

/** Tees the child's stdout and stderr (those that are pipes) into a file of the log dir. */
export function teeChild(child: ChildProcess, name: string, dir = process.env.CAA_TEST_LOG_DIR): void {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null);
  if (!dir) {
    for (const s of streams) if (s.listenerCount("data") === 0) s.resume();
    return;
  }
  const out = createWriteStream(logPath(name, dir));
  let open = streams.length;
  for (const s of streams) {
    s.on("data", (d: Buffer) => out.write(d));
    s.once("close", () => {
      if (--open === 0) out.end();
    });
  }
}

/** Copies every `*.log` file under `root` (a test's temp dir) into the log dir. */
export async function keepLogsUnder(
  root: string,
  name: string,
  dir = process.env.CAA_TEST_LOG_DIR,
): Promise<void> {
  if (!dir) return;
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith(".log")) continue;
    const from = path.join(e.parentPath, e.name);
    const rel = path.relative(root, from);
    await copyFile(from, logPath(`${name}-${rel}`, dir)).catch(() => undefined);
  }
}
