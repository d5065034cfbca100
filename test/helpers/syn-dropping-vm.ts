// A "VM" that is still booting, as the worker's agent proxy sees one: a network namespace reached
// over a veth by one /32 route, a TCP listener in it on `port` (its forwarder), and an iptables rule
// there that drops the SYNs to that port without a word, as a cloud VM's network does before its
// guest is up, until `open()`. For the agent-dial test and bench; root only.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface SynDroppingVm {
  ip: string;
  port: number;
  /** The VM's network comes up: SYNs reach the listener from now on. */
  open(): Promise<void>;
  close(): Promise<void>;
}

async function sh(...argv: string[]): Promise<void> {
  await exec(argv[0], argv.slice(1));
}

/** `ip`: an address no other test routes on this host (a /32 route to it is added here). */
export async function startSynDroppingVm(ip: string, port: number): Promise<SynDroppingVm> {
  const sfx = randomBytes(3).toString("hex");
  const ns = `syn-${sfx}`;
  const hostVeth = `snh${sfx}`;
  const drop = ["-p", "tcp", "--dport", String(port), "-j", "DROP"];
  let listener: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    listener?.kill();
    await exec("ip", ["route", "del", `${ip}/32`]).catch(() => undefined);
    await exec("ip", ["link", "del", hostVeth]).catch(() => undefined);
    await exec("ip", ["netns", "del", ns]).catch(() => undefined);
  };
  try {
    await sh("ip", "netns", "add", ns);
    await sh("ip", "link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", ns);
    await sh("ip", "link", "set", hostVeth, "up");
    await sh("ip", "route", "add", `${ip}/32`, "dev", hostVeth);
    for (const c of [
      ["link", "set", "lo", "up"],
      ["link", "set", "eth0", "up"],
      ["addr", "add", `${ip}/32`, "dev", "eth0"],
      ["route", "add", "default", "dev", "eth0"],
    ])
      await sh("ip", "-n", ns, ...c);
    await sh("ip", "netns", "exec", ns, "iptables", "-A", "INPUT", ...drop);
    const script = `require("node:net").createServer((s) => s.on("error", () => {})).listen(${port}, () => console.log("listening"))`;
    listener = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const started = listener;
    await new Promise<void>((resolve, reject) => {
      started.stdout!.once("data", () => resolve());
      started.once("exit", (code) => reject(new Error(`the VM's listener exited (${code})`)));
    });
  } catch (err) {
    await close();
    throw err;
  }
  return { ip, port, open: () => sh("ip", "netns", "exec", ns, "iptables", "-D", "INPUT", ...drop), close };
}
