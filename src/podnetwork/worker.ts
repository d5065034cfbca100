// Worker side, StartVM / StopVM: the VXLAN end in the pod netns, bridged to the pod's veth by tc
// (docs/upstream-compat.md §4.2, CAA `…/tunneler/vxlan/workernode.go`).
import { existsSync } from "node:fs";
import { isIPv4 } from "node:net";
import type { Logger } from "../log/logger.ts";
import { netnsPath as resolveNetns, run } from "./exec.ts";
import { findLink, links } from "./iproute.ts";
import { addNotrack, removeNotrack, type NotrackFlow } from "./iptables.ts";
import { step, teardownAll, withRollback, type Rollback } from "./rollback.ts";
import { serialQueue } from "./serial.ts";
import { addRedirect, removeRedirect } from "./tc.ts";
import type { PodNetworkConfig } from "./types.ts";
import {
  addVxlan,
  deleteVxlan,
  isExists,
  isVxlanWith,
  moveLink,
  vxlansWithVni,
  type VxlanParams,
} from "./vxlan-link.ts";
import { DEFAULT_VXLAN_PORT } from "./vni.ts";

/** Name of the tunnel end inside the pod netns. */
export const POD_VXLAN_INTERFACE = "vxlan1";
/** Temporary name in the host netns before the move; upstream tries ppvxlan1…ppvxlan5. */
export const HOST_VXLAN_PREFIX = "ppvxlan";
const MAX_HOST_VXLAN_INDEX = 5;

export interface WorkerTunnelOptions {
  /** The pod netns path the kata shim gave CreateVM. */
  netnsPath: string;
  config: PodNetworkConfig;
  /** The VM's IP: the tunnel's remote end (upstream: IPs[0], or IPs[1] when dedicated). */
  remoteIp: string;
  logger: Logger;
  /** Netns (name or path) playing the worker host; default: the current one. */
  hostNetns?: string;
}

// Picking a free ppvxlan<N> and moving it away must not interleave between concurrent setups.
const linkQueue = serialQueue();

function tunnelParams(opts: WorkerTunnelOptions): VxlanParams {
  if (!isIPv4(opts.remoteIp))
    throw new Error(`remote IP ${JSON.stringify(opts.remoteIp)} is not an IPv4 address`);
  return {
    vni: opts.config["vxlan-id"] ?? 0,
    remote: opts.remoteIp,
    port: opts.config["vxlan-port"] ?? DEFAULT_VXLAN_PORT,
  };
}

/** Creates ppvxlan<N> in the host netns and moves it into the pod netns as vxlan1's precursor. */
async function createAndMove(opts: WorkerTunnelOptions, p: VxlanParams, rb: Rollback): Promise<string> {
  return linkQueue(async () => {
    const taken = new Set((await links(opts.hostNetns)).map((l) => l.ifname));
    let name = "";
    for (let n = 1; n <= MAX_HOST_VXLAN_INDEX && name === ""; n++) {
      const candidate = `${HOST_VXLAN_PREFIX}${n}`;
      if (taken.has(candidate)) continue;
      try {
        await addVxlan(opts.hostNetns, candidate, p);
        name = candidate;
      } catch (err) {
        if (!isExists(err)) throw err;
      }
    }
    if (name === "")
      throw new Error(`no free name ${HOST_VXLAN_PREFIX}1…${MAX_HOST_VXLAN_INDEX} in the host netns`);
    rb.push(`delete ${name} in the host netns`, () => deleteVxlan(opts.hostNetns, name, p.vni));
    await step(`move ${name} into the pod netns`, () =>
      moveLink(opts.hostNetns, name, resolveNetns(opts.netnsPath)),
    );
    rb.push(`delete ${name} in the pod netns`, () => deleteVxlan(opts.netnsPath, name, p.vni));
    return name;
  });
}

/** Builds the worker end of the tunnel; on any failure undoes what it did and rejects naming the step. */
export async function setupWorkerTunnel(opts: WorkerTunnelOptions): Promise<void> {
  const ns = opts.netnsPath;
  const dev = opts.config.interface;
  await withRollback(`set up worker tunnel for pod netns ${ns}`, async (rb) => {
    const p = tunnelParams(opts);
    const flow: NotrackFlow = { addr: p.remote, port: p.port, vni: p.vni };
    const undoNotrack = await step("add iptables NOTRACK rules", () => addNotrack(opts.hostNetns, flow));
    rb.push("remove iptables NOTRACK rules", undoNotrack);

    const tmp = await step(`create vxlan (id ${p.vni}, remote ${p.remote}, dstport ${p.port})`, () =>
      createAndMove(opts, p, rb),
    );
    await step(`rename ${tmp} to ${POD_VXLAN_INTERFACE}`, () =>
      run(["ip", "link", "set", "dev", tmp, "name", POD_VXLAN_INTERFACE], { netns: ns }),
    );
    rb.push(`delete ${POD_VXLAN_INTERFACE}`, () => deleteVxlan(ns, POD_VXLAN_INTERFACE, p.vni));
    await step(`set ${POD_VXLAN_INTERFACE} up`, () =>
      run(["ip", "link", "set", "dev", POD_VXLAN_INTERFACE, "up"], { netns: ns }),
    );

    // The undo is registered once the redirect exists, so a qdisc we did not add is never removed;
    // the one on vxlan1 goes with the link.
    await step(`add tc redirect ${dev} → ${POD_VXLAN_INTERFACE}`, () =>
      addRedirect(ns, dev, POD_VXLAN_INTERFACE),
    );
    rb.push(`remove tc redirect on ${dev}`, () => removeRedirect(ns, dev));
    await step(`add tc redirect ${POD_VXLAN_INTERFACE} → ${dev}`, () =>
      addRedirect(ns, POD_VXLAN_INTERFACE, dev),
    );
  });
  opts.logger.info(
    { netns: ns, vni: opts.config["vxlan-id"], remote: opts.remoteIp, interface: dev },
    "worker tunnel set up",
  );
}

/** Deletes ppvxlan<N> links with this VNI that a crash between create, move and rename left behind. */
async function deleteLeftovers(netns: string | undefined, vni: number): Promise<void> {
  for (const l of await vxlansWithVni(netns, HOST_VXLAN_PREFIX, vni)) await deleteVxlan(netns, l.ifname, vni);
}

/**
 * Removes the tc redirects, the vxlan (in the pod netns, or a ppvxlan<N> left in the host netns by a
 * crash), and the NOTRACK rules with their chains once empty. Safe to repeat and on partial state;
 * a pod netns that is already gone took its links and qdiscs with it.
 */
export async function teardownWorkerTunnel(opts: WorkerTunnelOptions): Promise<void> {
  const ns = opts.netnsPath;
  const dev = opts.config.interface;
  const p = await step(`tear down worker tunnel for pod netns ${ns}`, async () => tunnelParams(opts));
  const flows: NotrackFlow[] = [{ addr: p.remote, port: p.port, vni: p.vni }];
  const podNsExists = existsSync(resolveNetns(ns));
  const actions: [string, () => Promise<unknown>][] = [];
  if (podNsExists) {
    actions.push(
      [`remove tc redirect on ${dev}`, () => removeRedirect(ns, dev)],
      [`remove tc redirect on ${POD_VXLAN_INTERFACE}`, () => removeRedirect(ns, POD_VXLAN_INTERFACE)],
      [
        `delete ${POD_VXLAN_INTERFACE}`,
        async () => {
          // Upstream reads the link's own remote/port/id to find its iptables rules; do the same.
          const link = await findLink(ns, POD_VXLAN_INTERFACE);
          if (!isVxlanWith(link, p.vni) || link.vxlan === undefined) return;
          const own = { addr: link.vxlan.remote, port: link.vxlan.port, vni: p.vni };
          if (own.addr !== p.remote || own.port !== p.port) flows.push(own);
          await deleteVxlan(ns, POD_VXLAN_INTERFACE, p.vni);
        },
      ],
      [
        `delete leftover ${HOST_VXLAN_PREFIX}<N> with id ${p.vni} in the pod netns`,
        () => deleteLeftovers(ns, p.vni),
      ],
    );
  }
  actions.push(
    [
      `delete leftover ${HOST_VXLAN_PREFIX}<N> with id ${p.vni} in the host netns`,
      () => deleteLeftovers(opts.hostNetns, p.vni),
    ],
    [
      "remove iptables NOTRACK rules",
      async () => {
        for (const flow of flows) await removeNotrack(opts.hostNetns, flow);
      },
    ],
  );
  await teardownAll(`tear down worker tunnel for pod netns ${ns}`, actions);
  opts.logger.info({ netns: ns, vni: p.vni, remote: p.remote }, "worker tunnel torn down");
}
