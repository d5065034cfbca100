// A worker node, a CNI pod, a peer and a "VM", each a network namespace, wired with veths in
// documentation ranges (docs/testing.md): the local model of upstream's pod networking.
//
//   peer (203.0.113.2) ── peer0 ┐
//                               worker (eth0 192.0.2.1, forwarding) ── underlay veth ── vm (eth0 192.0.2.2)
//   pod  (eth0 198.51.100.10) ── pod0 198.51.100.1 ┘
//
// The VM's pod netns (`vmPod`) is created by setupPodNode; every name carries a random suffix.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const exec = promisify(execFile);

export const WORKER_IP = "192.0.2.1";
export const VM_IP = "192.0.2.2";
export const POD_IP = "198.51.100.10";
export const POD_GW = "198.51.100.1";
export const PEER_IP = "203.0.113.2";

export interface Topology {
  id: string;
  worker: string;
  vm: string;
  pod: string;
  podPath: string;
  peer: string;
  /** Name for the VM-side pod netns (not created here). */
  vmPod: string;
  all: string[];
}

export async function sh(argv: string[], netns?: string): Promise<string> {
  const full = netns === undefined ? argv : ["ip", "netns", "exec", netns, ...argv];
  const { stdout } = await exec(full[0], full.slice(1), { encoding: "utf8" });
  return stdout;
}

export function uniqueId(): string {
  return randomBytes(3).toString("hex");
}

/** Builds the namespaces; `mtu` sets the underlay and pod veth MTUs (default 1500). */
export async function buildTopology(opts: { mtu?: number; prefix?: string } = {}): Promise<Topology> {
  const id = uniqueId();
  const p = opts.prefix ?? "t";
  const t: Topology = {
    id,
    worker: `${p}w-${id}`,
    vm: `${p}v-${id}`,
    pod: `${p}p-${id}`,
    podPath: `/run/netns/${p}p-${id}`,
    peer: `${p}q-${id}`,
    vmPod: `${p}o-${id}`,
    all: [],
  };
  const mtu = String(opts.mtu ?? 1500);
  try {
    for (const ns of [t.worker, t.vm, t.pod, t.peer]) {
      await sh(["ip", "netns", "add", ns]);
      t.all.push(ns);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    await veth(t.worker, "eth0", `${WORKER_IP}/24`, t.vm, "eth0", `${VM_IP}/24`, mtu);
    await veth(t.worker, "pod0", `${POD_GW}/24`, t.pod, "eth0", `${POD_IP}/24`, mtu);
    await veth(t.worker, "peer0", "203.0.113.1/24", t.peer, "eth0", `${PEER_IP}/24`, "1500");
    await sh(["ip", "-n", t.worker, "route", "add", "default", "via", "192.0.2.254", "dev", "eth0"]);
    await sh(["ip", "-n", t.vm, "route", "add", "default", "via", WORKER_IP, "dev", "eth0"]);
    await sh(["ip", "-n", t.pod, "route", "add", "default", "via", POD_GW, "dev", "eth0"]);
    await sh(["ip", "-n", t.peer, "route", "add", "default", "via", "203.0.113.1", "dev", "eth0"]);
    await sh(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], t.worker);
  } catch (err) {
    await destroyTopology(t);
    throw err;
  }
  return t;
}

async function veth(
  nsA: string,
  nameA: string,
  addrA: string,
  nsB: string,
  nameB: string,
  addrB: string,
  mtu: string,
): Promise<void> {
  const tmpA = `ta${uniqueId()}`;
  const tmpB = `tb${uniqueId()}`;
  await sh([
    "ip",
    "link",
    "add",
    tmpA,
    "mtu",
    mtu,
    "netns",
    nsA,
    "type",
    "veth",
    "peer",
    tmpB,
    "mtu",
    mtu,
    "netns",
    nsB,
  ]);
  for (const [ns, tmp, name, addr] of [
    [nsA, tmpA, nameA, addrA],
    [nsB, tmpB, nameB, addrB],
  ] as const) {
    await sh(["ip", "-n", ns, "link", "set", tmp, "name", name]);
    await sh(["ip", "-n", ns, "addr", "add", addr, "dev", name]);
    await sh(["ip", "-n", ns, "link", "set", name, "up"]);
  }
}

/** Deletes every namespace of the topology (including the VM pod netns); never throws. */
export async function destroyTopology(t: Topology): Promise<void> {
  for (const ns of [...t.all, t.vmPod]) {
    await sh(["ip", "netns", "del", ns]).catch(() => undefined);
  }
}

export async function netnsExists(name: string): Promise<boolean> {
  return (await sh(["ip", "netns", "list"])).split("\n").some((l) => l.split(" ")[0] === name);
}

/** Everything a tunnel could leave behind in a netns, for "nothing left" assertions. */
export async function residue(
  ns: string,
): Promise<{ vxlans: string[]; ingress: string[]; iptables: string[] }> {
  const links = JSON.parse(await sh(["ip", "-j", "-d", "link", "show"], ns)) as {
    ifname: string;
    linkinfo?: { info_kind?: string };
  }[];
  const ingress: string[] = [];
  for (const l of links) {
    const q = JSON.parse((await sh(["tc", "-j", "qdisc", "show", "dev", l.ifname], ns)) || "[]") as {
      kind: string;
    }[];
    if (q.some((x) => x.kind === "ingress")) ingress.push(l.ifname);
  }
  const rules = await sh(["iptables", "-w", "-t", "raw", "-S"], ns);
  return {
    vxlans: links.filter((l) => l.linkinfo?.info_kind === "vxlan").map((l) => l.ifname),
    ingress,
    iptables: rules.split("\n").filter((r) => r.includes("peerpod")),
  };
}

const TCP_TOOL = new URL("./tcp-tool.ts", import.meta.url).pathname;

/** Runs tcp-tool.ts in a netns to completion and returns its stdout. */
export async function tcpTool(ns: string, args: string[], timeoutMs = 20_000): Promise<string> {
  const { stdout } = await exec("ip", ["netns", "exec", ns, process.execPath, TCP_TOOL, ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return stdout;
}

export interface Background {
  pid: number;
  /** Resolves with the full stdout once the process exits. */
  output: Promise<string>;
  stop(): void;
}

/** Starts tcp-tool.ts in a netns and resolves once it printed "listening". */
export function startTcpTool(ns: string, args: string[]): Promise<Background> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, TCP_TOOL, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let ready = false;
    const output = new Promise<string>((res) => child.on("close", () => res(out)));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (!ready && out.includes("listening\n")) {
        ready = true;
        out = out.replace("listening\n", "");
        resolve({
          pid: child.pid!,
          output,
          stop: () => {
            if (child.exitCode === null) child.kill("SIGTERM");
          },
        });
      }
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (!ready) reject(new Error(`tcp-tool ${args.join(" ")} exited ${code}: ${err}`));
    });
  });
}
