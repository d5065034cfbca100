// Pod VM side, called by the forwarder before it listens: the other VXLAN end, inside the pod netns,
// carrying the pod's own name, MAC, IP, routes and neighbours (docs/upstream-compat.md §4.3, CAA
// `pkg/podnetwork/podnode.go`, `…/tunneler/vxlan/podnode.go`). One deliberate difference: the MTU is
// min(pod MTU, underlay MTU − 50) instead of upstream's fixed 1450 cap (upstream issue #1992).
import { existsSync } from "node:fs";
import { isIPv4 } from "node:net";
import type { Logger } from "../log/logger.ts";
import { detectIp, detectPrimaryInterface, type DetectOptions } from "./detect.ts";
import { netnsPath, run } from "./exec.ts";
import { findLink, routeDevice } from "./iproute.ts";
import { addNotrack, removeNotrack } from "./iptables.ts";
import { describeRoute, neighborAddArgs, orderRoutes, routeAddArgs } from "./pod-routes.ts";
import { step, teardownAll, withRollback, type Rollback } from "./rollback.ts";
import type { PodNetworkConfig } from "./types.ts";
import { DEFAULT_VXLAN_PORT } from "./vni.ts";
import { addVxlan, deleteVxlan, moveLink, type VxlanParams } from "./vxlan-link.ts";
import { setupExternalNetwork } from "./external-net.ts";

/** The vxlan's name in the VM netns before it moves into the pod netns. */
export const VM_VXLAN_INTERFACE = "vxlan0";
/** IPv4 VXLAN overhead: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;
const DEFAULT_DETECT_TIMEOUT_MS = 3 * 60_000;

export interface PodNodeOptions {
  config: PodNetworkConfig;
  /** Pod netns: a name ("podns" → /run/netns/podns, created if missing) or an existing path. */
  podNetns: string;
  /** `-host-interface`; must differ from the primary interface when the config is dedicated. */
  hostInterface?: string;
  logger: Logger;
  /** Netns (name or path) of the VM itself; default: the current one. */
  vmNetns?: string;
  /** How long to wait for the VM's primary interface and IP (default 3 min, as upstream). */
  detectTimeoutMs?: number;
  detectIntervalMs?: number;
}

export interface PodNodeTeardownOptions extends PodNodeOptions {
  /** Also delete the pod netns (local VMs; on a real VM systemd owns /run/netns/podns). */
  deletePodNetns?: boolean;
}

function prefixParts(prefix: string, what: string): { addr: string; bits: number } {
  const [addr = "", bitsText = ""] = prefix.split("/");
  const bits = Number(bitsText);
  if (!isIPv4(addr) || !/^\d+$/.test(bitsText) || bits > 32) {
    throw new Error(`${what} is not specified as an IPv4 prefix: ${JSON.stringify(prefix)}`);
  }
  return { addr, bits };
}

function maskedPrefix(addr: string, bits: number): string {
  const n = addr.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const masked = bits === 0 ? 0 : n - (n % 2 ** (32 - bits));
  const octets = [24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256);
  return `${octets.join(".")}/${bits}`;
}

function tunnelParams(config: PodNetworkConfig): VxlanParams & { worker: string } {
  if (!config.interface) throw new Error("InterfaceName is not specified");
  const worker = prefixParts(config["worker-node-ip"], "WorkerNodeIP").addr;
  return {
    worker,
    remote: worker,
    vni: config["vxlan-id"] ?? 0,
    port: config["vxlan-port"] ?? DEFAULT_VXLAN_PORT,
  };
}

function detectOptions(opts: PodNodeOptions): DetectOptions {
  return {
    netns: opts.vmNetns,
    label: opts.vmNetns ?? "host",
    timeoutMs: opts.detectTimeoutMs ?? DEFAULT_DETECT_TIMEOUT_MS,
    intervalMs: opts.detectIntervalMs ?? 1000,
  };
}

/** Finds the VM's interfaces and IPs as upstream does; returns the primary interface. */
async function detectVmNetwork(opts: PodNodeOptions): Promise<string> {
  const d = detectOptions(opts);
  const primary = await detectPrimaryInterface(d);
  await detectIp(d, primary);
  if (opts.config.dedicated) {
    const hostInterface = opts.hostInterface || primary;
    if (hostInterface === primary) throw new Error(`${hostInterface} is not a dedicated interface`);
    await detectIp(d, hostInterface);
  }
  return primary;
}

/** Tunnel MTU: the pod's MTU, capped so encapsulated frames fit the underlay towards the worker. */
export function tunnelMtu(podMtu: number, underlayMtu: number): number {
  const cap = underlayMtu - VXLAN_OVERHEAD;
  return podMtu > 0 ? Math.min(podMtu, cap) : cap;
}

async function ensurePodNetns(opts: PodNodeOptions, rb: Rollback): Promise<void> {
  if (existsSync(netnsPath(opts.podNetns))) return;
  if (opts.podNetns.includes("/")) throw new Error(`pod netns ${opts.podNetns} does not exist`);
  await run(["ip", "netns", "add", opts.podNetns]);
  rb.push(`delete netns ${opts.podNetns}`, () => run(["ip", "netns", "del", opts.podNetns]));
  await run(["ip", "link", "set", "dev", "lo", "up"], { netns: opts.podNetns });
}

async function buildPodInterface(
  opts: PodNodeOptions,
  p: VxlanParams,
  mtu: number,
  rb: Rollback,
): Promise<void> {
  const { config, podNetns: pod } = opts;
  const dev = config.interface;
  const vm = opts.vmNetns;
  await step(`create ${VM_VXLAN_INTERFACE} (id ${p.vni}, remote ${p.remote}, dstport ${p.port})`, () =>
    addVxlan(vm, VM_VXLAN_INTERFACE, p),
  );
  rb.push(`delete ${VM_VXLAN_INTERFACE}`, () => deleteVxlan(vm, VM_VXLAN_INTERFACE, p.vni));
  await step(`move ${VM_VXLAN_INTERFACE} into netns ${pod}`, () => moveLink(vm, VM_VXLAN_INTERFACE, pod));
  rb.push(`delete ${VM_VXLAN_INTERFACE} in netns ${pod}`, () => deleteVxlan(pod, VM_VXLAN_INTERFACE, p.vni));
  await step(`rename ${VM_VXLAN_INTERFACE} to ${dev}`, () =>
    run(["ip", "link", "set", "dev", VM_VXLAN_INTERFACE, "name", dev], { netns: pod }),
  );
  rb.push(`delete ${dev} in netns ${pod}`, () => deleteVxlan(pod, dev, p.vni));
  await step(`set pod HW address ${config["pod-hw-addr"]} on ${dev}`, () =>
    run(["ip", "link", "set", "dev", dev, "address", config["pod-hw-addr"]], { netns: pod }),
  );
  await step(`set MTU of ${dev} to ${mtu}`, () =>
    run(["ip", "link", "set", "dev", dev, "mtu", String(mtu)], { netns: pod }),
  );
  await step(`add pod IP ${config.podip} to ${dev}`, () =>
    run(["ip", "addr", "add", config.podip, "dev", dev], { netns: pod }),
  );
  await step(`set ${dev} up`, () => run(["ip", "link", "set", "dev", dev, "up"], { netns: pod }));
}

async function addRoutesAndNeighbors(opts: PodNodeOptions): Promise<void> {
  const { config, podNetns: pod } = opts;
  const { addr, bits } = prefixParts(config.podip, "PodIP");
  if (bits !== 32) {
    // PTP/GKE-style CNIs need the kernel's subnet route gone; the copied routes restore it for others.
    const subnet = maskedPrefix(addr, bits);
    await step(`remove route ${subnet} dev ${config.interface}`, () =>
      run(["ip", "route", "del", subnet, "dev", config.interface], { netns: pod }),
    );
  }
  for (const route of orderRoutes(config.routes ?? [])) {
    await step(`add route ${describeRoute(route)}`, () => run(routeAddArgs(route), { netns: pod }));
  }
  for (const n of config.neighbors ?? []) {
    await step(`add neighbor ${n.ip} dev ${n.dev ?? ""}`, () => run(neighborAddArgs(n), { netns: pod }));
  }
}

/** Builds the VM end of the tunnel; on failure undoes everything and rejects naming the step. */
export async function setupPodNode(opts: PodNodeOptions): Promise<void> {
  const { config, logger } = opts;
  let mtu = 0;
  let primary = "";
  await withRollback(`set up pod network in netns ${opts.podNetns}`, async (rb) => {
    const p = tunnelParams(config);
    prefixParts(config.podip, "PodIP");
    primary = await step("detect the VM network", () => detectVmNetwork(opts));
    const underlay = await step(`find the interface towards ${p.worker}`, async () => {
      const dev = await routeDevice(opts.vmNetns, p.worker);
      const link = await findLink(opts.vmNetns, dev);
      if (link === undefined) throw new Error(`interface ${dev} vanished`);
      return link;
    });
    mtu = tunnelMtu(config.mtu, underlay.mtu);
    const undoNotrack = await step("add iptables NOTRACK rules", () =>
      addNotrack(opts.vmNetns, { ...p, addr: p.worker }),
    );
    rb.push("remove iptables NOTRACK rules", undoNotrack);
    await step(`create netns ${opts.podNetns}`, () => ensurePodNetns(opts, rb));
    await buildPodInterface(opts, p, mtu, rb);
    await addRoutesAndNeighbors(opts);
  });
  logger.info(
    { podNetns: opts.podNetns, vni: config["vxlan-id"], worker: config["worker-node-ip"], mtu },
    "pod network set up",
  );
  if (config["external-net-via-pod-vm"]) {
    // Upstream treats this experimental step as best effort: a failure is logged, not fatal.
    await setupExternalNetwork({ vmNetns: opts.vmNetns, podNetns: opts.podNetns, primary }).catch(
      (err: unknown) =>
        logger.warn({ err: (err as Error).message }, "failed to set up external network via the pod VM"),
    );
  }
}

/** Removes the pod interface, the NOTRACK rules and (if asked) the pod netns; safe to repeat. */
export async function teardownPodNode(opts: PodNodeTeardownOptions): Promise<void> {
  const prefix = `tear down pod network in netns ${opts.podNetns}`;
  const p = await step(prefix, async () => tunnelParams(opts.config));
  const pod = opts.podNetns;
  const dev = opts.config.interface;
  const podExists = existsSync(netnsPath(pod));
  const actions: [string, () => Promise<unknown>][] = [];
  if (podExists) {
    actions.push(
      [`delete ${dev}`, () => deleteVxlan(pod, dev, p.vni)],
      [`delete ${VM_VXLAN_INTERFACE} in netns ${pod}`, () => deleteVxlan(pod, VM_VXLAN_INTERFACE, p.vni)],
    );
  }
  actions.push(
    [`delete ${VM_VXLAN_INTERFACE}`, () => deleteVxlan(opts.vmNetns, VM_VXLAN_INTERFACE, p.vni)],
    ["remove iptables NOTRACK rules", () => removeNotrack(opts.vmNetns, { ...p, addr: p.worker })],
  );
  if (opts.deletePodNetns && podExists && !pod.includes("/")) {
    actions.push([`delete netns ${pod}`, () => run(["ip", "netns", "del", pod])]);
  }
  await teardownAll(prefix, actions);
  opts.logger.info({ podNetns: pod, vni: p.vni }, "pod network torn down");
}
