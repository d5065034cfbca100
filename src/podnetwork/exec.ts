// Runs iproute2 / tc / iptables, optionally inside a network namespace, with errors that carry the
// command line and its stderr. Namespaces are entered with `nsenter --net=<path>` because `ip -n`
// only accepts names under /run/netns, while CNI netns paths can be anywhere (/var/run/netns/cni-…,
// a bind-mounted file, /proc/<pid>/ns/net). child_process loads on the first command: a pod VM's
// forwarder without a pod network or cloud volume never runs one.

const DEFAULT_TIMEOUT_MS = 30_000;
const NETNS_DIR = "/run/netns";

/** A command that ran and failed (non-zero exit, signal or timeout). */
export class CommandError extends Error {
  readonly command: string;
  readonly stderr: string;
  readonly exitCode: number | null;

  constructor(command: string, stderr: string, exitCode: number | null, detail: string) {
    super(`${command}: ${stderr || detail}`);
    this.name = "CommandError";
    this.command = command;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

/** A netns given as a name ("podns" → /run/netns/podns) or as a path (anything with a slash). */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.includes("/") ? nameOrPath : `${NETNS_DIR}/${nameOrPath}`;
}

export interface RunOptions {
  /** Netns name or path to run in; the current netns when absent. */
  netns?: string;
  timeoutMs?: number;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** Runs `argv` and resolves with its stdout; rejects with a CommandError naming the command. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const full = opts.netns === undefined ? [...argv] : ["nsenter", `--net=${netnsPath(opts.netns)}`, ...argv];
  const [file, ...args] = full;
  if (file === undefined) throw new Error("run: empty command");
  const shown = full.map(quote).join(" ");
  // Not import(): in the pod-VM bundle (CommonJS) that goes through node's ES module loader, which
  // loads undici with it, 3.5 MiB more resident in the VM's forwarder.
  const { execFile } = process.getBuiltinModule("node:child_process");
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve(stdout);
          return;
        }
        const code = typeof err.code === "number" ? err.code : null;
        const detail = err.killed ? `timed out or killed (${err.signal ?? "?"})` : err.message;
        reject(new CommandError(shown, stderr.trim(), code, detail));
      },
    );
  });
}

/** Runs an iproute2/tc command with `-j` already in argv and parses its JSON (empty output = []). */
export async function runJson(argv: readonly string[], opts: RunOptions = {}): Promise<unknown> {
  const out = (await run(argv, opts)).trim();
  if (out === "") return [];
  try {
    return JSON.parse(out) as unknown;
  } catch (err) {
    throw new Error(`${argv.join(" ")}: unparseable JSON output: ${(err as Error).message}`, { cause: err });
  }
}
