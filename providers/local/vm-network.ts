// The local VM's "cloud network": a bridge in the host netns and, per VM, a network namespace
// joined to it by a veth pair, with the VM's address and a default route via the bridge.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await exec("ip", args);
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? String(err);
    throw new Error(`ip ${args.join(" ")}: ${stderr}`, { cause: err });
  }
}

/**
 * Run `ip` commands in one process (`ip -batch -`), in `netns` if given. It stops at the first that
 * fails and the error names that command; with `force` it runs them all (errors are for the caller
 * to ignore).
 */
async function ipBatch(commands: string[][], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
  const where = opts.netns ? ["-n", opts.netns] : [];
  if (commands.some((c) => c.some((a) => a === "" || /\s/.test(a)))) {
    throw new Error(`ip -batch: an argument is empty or has a space: ${JSON.stringify(commands)}`);
  }
  try {
    const running = exec("ip", [...where, ...(opts.force ? ["-force"] : []), "-batch", "-"]);
    running.child.stdin?.end(commands.map((c) => c.join(" ") + "\n").join(""));
    await running;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    // ip ends with "Command failed -:<line>" for a command the kernel refused; on a command it
    // cannot parse it stops without saying which, so the error lists them all.
    const line = /Command failed -:(\d+)/.exec(stderr)?.[1];
    const failed = line ? commands[Number(line) - 1] : undefined;
    const what = failed ? failed.join(" ") : `-batch (${commands.map((c) => c.join(" ")).join("; ")})`;
    const message = stderr.replace(/Command failed -:\d+/g, "").trim();
    throw new Error(`ip ${[...where, what].join(" ")}: ${message}`, { cause: err });
  }
}

async function linkExists(name: string): Promise<boolean> {
  return exec("ip", ["link", "show", "dev", name]).then(
    () => true,
    () => false,
  );
}

/**
 * Create the bridge if it is not there, mark it as ours (alias), and leave the gateway as its only
 * IPv4 address: an address of an earlier range of ours must not stay behind.
 */
export async function ensureBridge(bridge: string, gatewayCidr: string, alias: string): Promise<void> {
  if (!(await linkExists(bridge))) {
    await ip("link", "add", bridge, "type", "bridge").catch(async (err: unknown) => {
      if (!(await linkExists(bridge))) throw err;
    });
  }
  await ip("link", "set", "dev", bridge, "alias", alias);
  const addrs = await ip("-j", "-4", "addr", "show", "dev", bridge);
  let has = false;
  for (const l of JSON.parse(addrs) as { addr_info?: { local: string; prefixlen: number }[] }[]) {
    for (const a of l.addr_info ?? []) {
      const cidr = `${a.local}/${a.prefixlen}`;
      if (cidr === gatewayCidr) has = true;
      else await ip("addr", "del", cidr, "dev", bridge);
    }
  }
  if (!has) await ip("addr", "add", gatewayCidr, "dev", bridge);
  await ip("link", "set", bridge, "up");
}

/** Move the ports of an old bridge of ours (VMs of an earlier run) to `bridge`, then delete it. */
export async function replaceBridge(old: string, ports: readonly string[], bridge: string): Promise<void> {
  for (const port of ports) await ip("link", "set", port, "master", bridge);
  await deleteBridge(old);
}

export async function deleteBridge(bridge: string): Promise<void> {
  if (await linkExists(bridge)) await ip("link", "del", bridge);
}

export interface VmNetworkSpec {
  netns: string;
  hostVeth: string;
  address: string;
  prefix: number;
  gateway: string;
  bridge: string;
}

export async function createVmNetwork(spec: VmNetworkSpec): Promise<void> {
  // Two `ip -batch` runs instead of one `ip` per step: under 50 concurrent starts every spawn is a
  // fork of the daemon, and eleven of them per VM made that a large share of a local pod start.
  try {
    await ipBatch([
      ["netns", "add", spec.netns],
      // The peer is made in the VM's namespace, already named eth0.
      ["link", "add", spec.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", spec.netns],
      ["link", "set", spec.hostVeth, "master", spec.bridge],
      ["link", "set", spec.hostVeth, "up"],
      // The address may be one a VM deleted a moment ago had. The host's neighbour entry for it is
      // kept on the bridge (it stays up while other VMs are on it) and still names the old VM's
      // MAC: until it expired (15-45 s, then 8 s of probes) nothing sent to the new VM reached it.
      ["neigh", "flush", "to", spec.address, "dev", spec.bridge],
    ]);
    await ipBatch(
      [
        ["addr", "add", `${spec.address}/${spec.prefix}`, "dev", "eth0"],
        ["link", "set", "eth0", "up"],
        ["link", "set", "lo", "up"],
        ["route", "add", "default", "via", spec.gateway],
      ],
      { netns: spec.netns },
    );
  } catch (err) {
    await deleteVmNetwork([spec.netns], spec.hostVeth);
    throw err;
  }
}

/**
 * Remove a VM's namespaces and veth; safe to repeat, so what is already gone is no error. The veth
 * is deleted as well: its namespace end goes only once the VM's last process has exited.
 */
export async function deleteVmNetwork(namespaces: string[], hostVeth: string): Promise<void> {
  const steps = [...namespaces.map((ns) => ["netns", "del", ns]), ["link", "del", hostVeth]];
  await ipBatch(steps, { force: true }).catch(() => undefined);
}

export async function netnsExists(netns: string): Promise<boolean> {
  const out = await exec("ip", ["-j", "netns", "list"]).then(
    (r) => r.stdout,
    () => "",
  );
  if (out.trim() === "") return false;
  return (JSON.parse(out) as { name: string }[]).some((n) => n.name === netns);
}

/**
 * Named namespaces are global on a host, so each local VM's pod namespace gets its own name
 * (a real VM has just one: /run/netns/podns).
 */
export function podNetnsOf(vmNetns: string): string {
  return `${vmNetns}-pod`;
}
