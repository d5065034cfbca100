// Pod traffic across a real VXLAN tunnel, end to end through the daemon: a "worker" netns runs
// `caa serve` (local provider), a CNI-like pod netns hangs off it, and a peer sits behind it. After
// CreateVM/StartVM the pod's IP lives in the local VM's pod namespace; ping and TCP cross the
// tunnel both ways. StopVM leaves no link, qdisc, iptables rule or namespace behind, and neither
// does a restart that finds the VM gone (recovery tears the worker side down with the recorded IP).
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import {
  cleanupDaemon,
  daemonEnv,
  isRoot,
  makeDaemonDir,
  startDaemon,
  vmNamespaces,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { needsRoot } from "../helpers/requires.ts";

const exec = promisify(execFile);
const TCP_TOOL = fileURLToPath(new URL("../helpers/tcp-tool.ts", import.meta.url));
const POD = { "io.kubernetes.cri.sandbox-name": "net", "io.kubernetes.cri.sandbox-namespace": "default" };
const sfx = randomBytes(3).toString("hex");
const NS = { worker: `tw-${sfx}`, pod: `cni-${sfx}`, pod2: `cnj-${sfx}`, peer: `tq-${sfx}` };
const POD_IP = "198.51.100.10";
const PEER_IP = "192.0.2.2";

async function sh(argv: string[], netns?: string): Promise<string> {
  const full = netns ? ["ip", "netns", "exec", netns, ...argv] : argv;
  const { stdout } = await exec(full[0], full.slice(1), { encoding: "utf8" });
  return stdout;
}

/** A veth between two namespaces with an address on each end (and a default route on `b`). */
async function wire(a: string, b: string, aName: string, aAddr: string, bAddr: string, gw: string) {
  await sh(["ip", "-n", a, "link", "add", aName, "type", "veth", "peer", "name", "eth0", "netns", b]);
  await sh(["ip", "-n", a, "addr", "add", aAddr, "dev", aName]);
  await sh(["ip", "-n", a, "link", "set", aName, "up"]);
  await sh(["ip", "-n", b, "addr", "add", bAddr, "dev", "eth0"]);
  await sh(["ip", "-n", b, "link", "set", "eth0", "up"]);
  await sh(["ip", "-n", b, "link", "set", "lo", "up"]);
  await sh(["ip", "-n", b, "route", "add", "default", "via", gw]);
}

/** Everything in the worker netns that the tunnel could leave behind. */
async function workerResidue(): Promise<string[]> {
  const links = JSON.parse(await sh(["ip", "-j", "-n", NS.worker, "link", "show"])) as { ifname: string }[];
  const podLinks = JSON.parse(await sh(["ip", "-j", "-n", NS.pod, "link", "show"])) as { ifname: string }[];
  const qdiscs = await sh(["tc", "qdisc", "show", "dev", "eth0"], NS.pod);
  const rules = await sh(["iptables", "-t", "raw", "-S"], NS.worker);
  return [
    ...links.filter((l) => l.ifname.startsWith("ppvxlan")).map((l) => `link ${l.ifname}`),
    ...podLinks.filter((l) => l.ifname === "vxlan1").map(() => "link vxlan1 in pod netns"),
    ...(qdiscs.includes("ingress") ? ["ingress qdisc on pod eth0"] : []),
    ...rules.split("\n").filter((r) => r.includes("peerpod")),
  ];
}

async function tcpEcho(serverNs: string, host: string, clientNs: string, msg: string): Promise<string> {
  const server = spawn(
    "ip",
    ["netns", "exec", serverNs, process.execPath, TCP_TOOL, "echo-server", host, "7007"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout.once("data", () => resolve());
      server.once("exit", (code) => reject(new Error(`echo server exited ${code}`)));
    });
    return await sh([process.execPath, TCP_TOOL, "echo-client", host, "7007", msg], clientNs);
  } finally {
    server.kill("SIGTERM");
  }
}

let dir = "";
let env: Record<string, string> = {};
let daemon: DaemonProcess | undefined;

before(async () => {
  if (!isRoot) return;
  for (const ns of Object.values(NS)) await sh(["ip", "netns", "add", ns]);
  await sh(["ip", "-n", NS.worker, "link", "set", "lo", "up"]);
  await sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], NS.worker);
  await wire(NS.worker, NS.pod, "cni0", "198.51.100.1/24", `${POD_IP}/24`, "198.51.100.1");
  await wire(NS.worker, NS.pod2, "cni1", "198.51.100.129/25", "198.51.100.130/25", "198.51.100.129");
  await wire(NS.worker, NS.peer, "peer0", "192.0.2.1/24", `${PEER_IP}/24`, "192.0.2.1");
  // The worker's primary interface is its default-route one (docs/upstream-compat.md §4.1); VMs reach its
  // address through the local provider's bridge.
  await sh(["ip", "-n", NS.worker, "route", "add", "default", "via", PEER_IP]);
  dir = await makeDaemonDir();
  env = daemonEnv(dir, { LOCAL_VM_SUBNET: "203.0.113.64/28" });
  daemon = await startDaemon(dir, env, 30_000, { netns: NS.worker });
});

after(async () => {
  await daemon?.kill("SIGTERM");
  if (dir) await cleanupDaemon({ dir, bridge: "" });
  if (isRoot)
    for (const ns of Object.values(NS)) await exec("ip", ["netns", "del", ns]).catch(() => undefined);
});

/** CreateVM + StartVM of a sandbox in pod netns `podNs`, both answered OK. */
async function createAndStart(id: string, podNs: string): Promise<void> {
  const steps = await goShimLifecycle(daemon!.socket, {
    id,
    netns: `/run/netns/${podNs}`,
    annotations: POD,
    steps: ["create", "start"],
  });
  assert.deepEqual(
    steps.map((s) => [s.step, s.code, s.message]),
    [
      ["CreateVM", 0, ""],
      ["StartVM", 0, ""],
    ],
    daemon!.logs(),
  );
}

test(
  "pod traffic crosses a VXLAN tunnel between the worker and a local VM, both ways",
  { skip: needsRoot() },
  async () => {
    const id = randomBytes(32).toString("hex");
    const before = vmNamespaces(env.LOCAL_NETNS_PREFIX);
    await createAndStart(id, NS.pod);
    const [vm] = vmNamespaces(env.LOCAL_NETNS_PREFIX).filter((n) => !before.includes(n));
    assert.ok(vm, "a VM namespace exists");
    const podns = `${vm}-pod`;

    // The pod's address now lives in the VM's pod namespace, on a device named like the pod's.
    const addrs = await sh(["ip", "-j", "-n", podns, "addr", "show", "dev", "eth0"]);
    assert.match(addrs, new RegExp(`"local":"${POD_IP.replace(/\./g, "\\.")}"`));
    assert.match(await sh(["ip", "-d", "-n", NS.pod, "link", "show", "vxlan1"]), /vxlan id 555000/);

    // VM pod namespace → peer behind the worker, and peer → pod IP, ping and TCP.
    await sh(["ping", "-c", "2", "-W", "3", PEER_IP], podns);
    await sh(["ping", "-c", "2", "-W", "3", POD_IP], NS.peer);
    assert.equal(await tcpEcho(NS.peer, PEER_IP, podns, "from-the-vm"), "from-the-vm");
    assert.equal(await tcpEcho(podns, POD_IP, NS.peer, "to-the-pod"), "to-the-pod");

    const [stop] = await goShimLifecycle(daemon!.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0);
    assert.deepEqual(await workerResidue(), [], "no tunnel residue on the worker");
    assert.deepEqual(vmNamespaces(env.LOCAL_NETNS_PREFIX), before, "VM namespace removed");
    const namespaces = await sh(["ip", "netns", "list"]);
    assert.ok(!namespaces.includes(podns), "VM pod namespace removed");
  },
);

async function vxlanId(podNs: string): Promise<string | undefined> {
  return /vxlan id (\d+)/.exec(
    await sh(["ip", "-d", "-n", podNs, "link", "show", "vxlan1"]).catch(() => ""),
  )?.[1];
}

test(
  "VNIs of running sandboxes survive kill -9, and a new sandbox gets a different one",
  { skip: needsRoot() },
  async () => {
    const a = randomBytes(32).toString("hex");
    const b = randomBytes(32).toString("hex");
    await goShimLifecycle(daemon!.socket, {
      id: a,
      netns: `/run/netns/${NS.pod}`,
      annotations: POD,
      steps: ["create", "start"],
    });
    const vniA = await vxlanId(NS.pod);
    assert.ok(vniA, daemon!.logs());

    await daemon!.kill("SIGKILL");
    daemon = await startDaemon(dir, env, 30_000, { netns: NS.worker });

    const steps = await goShimLifecycle(daemon.socket, {
      id: b,
      netns: `/run/netns/${NS.pod2}`,
      annotations: { ...POD, "io.kubernetes.cri.sandbox-name": "net2" },
      steps: ["create", "start"],
    });
    assert.deepEqual(
      steps.map((s) => s.code),
      [0, 0],
      daemon.logs(),
    );
    const vniB = await vxlanId(NS.pod2);
    assert.ok(vniB);
    assert.notEqual(vniB, vniA, "upstream's counter restarts at 0 after a restart; ours does not");
    assert.equal(await vxlanId(NS.pod), vniA, "the running sandbox keeps its tunnel");

    for (const id of [a, b]) {
      const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
      assert.equal(stop.code, 0);
    }
    assert.deepEqual(await workerResidue(), []);
    assert.equal(await vxlanId(NS.pod2), undefined);
  },
);

/**
 * The cloud lost the VM while no daemon ran: its process, namespaces and the provider's record of
 * it are gone, as a terminated cloud VM would be. The worker side is left as the daemon made it.
 */
async function vanish(stateDir: string, sandboxId: string): Promise<void> {
  const records = join(stateDir, "provider-local");
  for (const name of (await readdir(records)).filter((n) => n.endsWith(".json"))) {
    const rec = JSON.parse(await readFile(join(records, name), "utf8")) as {
      id: string;
      netns: string;
      process?: { pid: number };
      tags: Record<string, string>;
    };
    if (rec.tags["peerpod-sandbox-id"] !== sandboxId) continue;
    if (rec.process) {
      try {
        process.kill(-rec.process.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    for (const ns of [rec.netns, `${rec.netns}-pod`]) await sh(["ip", "netns", "del", ns]);
    await rm(join(records, rec.id), { recursive: true, force: true });
    await rm(join(records, name));
    return;
  }
  throw new Error(`no local VM of sandbox ${sandboxId}`);
}

test(
  "a VM that vanished while the daemon was down is failed on restart, and its tunnel and NOTRACK rules are gone",
  { skip: needsRoot() },
  async () => {
    const id = randomBytes(32).toString("hex");
    const before = vmNamespaces(env.LOCAL_NETNS_PREFIX);
    await createAndStart(id, NS.pod);
    const vni = await vxlanId(NS.pod);
    assert.ok(vni, "the worker end of the tunnel is in the pod netns");
    const rules = (await workerResidue()).filter((r) => r.includes(`peerpod [vni:${vni}]`));
    assert.equal(rules.length, 2, "NOTRACK rules for both directions are in the worker's raw table");

    await daemon!.kill("SIGKILL");
    await vanish(env.STATE_DIR, id);
    assert.deepEqual(vmNamespaces(env.LOCAL_NETNS_PREFIX), before, "the VM is gone");
    assert.ok((await workerResidue()).length > 0, "but the worker side of its tunnel is not");

    daemon = await startDaemon(dir, env, 30_000, { netns: NS.worker });
    assert.match(daemon.logs(), /recovered sandboxes from the state directory running=0 undone=1/);
    const record = sandboxRecord(env.STATE_DIR, id);
    assert.equal(record.stage, "failed");
    assert.match(record.lastError?.message ?? "", /^instance local-[0-9a-f]+ no longer exists$/);
    assert.deepEqual(await workerResidue(), [], "no tunnel link, tc redirect or NOTRACK rule is left");

    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0, stop.message);
    assert.equal(sandboxRecord(env.STATE_DIR, id).stage, "stopped");
  },
);

function sandboxRecord(stateDir: string, sid: string): { stage: string; lastError?: { message: string } } {
  return JSON.parse(readFileSync(join(stateDir, "sandboxes", `${sid}.json`), "utf8")) as {
    stage: string;
    lastError?: { message: string };
  };
}
