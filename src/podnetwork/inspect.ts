// Worker side, CreateVM: read the pod netns the CNI built and describe it as apf.json `pod-network`
// (docs/upstream-compat.md §4.1, CAA `pkg/podnetwork/workernode.go` Inspect).
import type { Logger } from "../log/logger.ts";
import type { IpRoute } from "./iproute-parse.ts";
import { findLink, mainRoutes, permanentNeighbors } from "./iproute.ts";
import { COPIED_PROTOCOLS, protocolName, scopeName } from "./names.ts";
import { findPrimaryInterface } from "./primary.ts";
import type { ApfNeighbor, ApfRoute, PodNetworkConfig } from "../userdata/apf-config.ts";
import { checkVxlanPort, vniFor } from "./vni.ts";

export interface InspectOptions {
  /** Path of the pod netns, as the kata shim passes it (e.g. /var/run/netns/cni-…). */
  netnsPath: string;
  /** `-host-interface`: the worker interface that carries VXLAN; default: the primary one. */
  hostInterface?: string;
  /** Pod index from the sandbox store; VNI = vxlanMinId + index. */
  index: number;
  vxlanPort: number;
  vxlanMinId: number;
  /** POD_SUBNET_CIDRS: each becomes a route via the pod gateway on the pod interface. */
  podSubnetCidrs?: string[];
  /** EXTERNAL_NET_VIA_PODVM, copied into the config. */
  externalNetViaPodVm?: boolean;
  /** Netns (name or path) playing the worker host; default: the current one. */
  hostNetns?: string;
  logger?: Logger;
}

function ipv4Bytes(prefix: string): number {
  const [addr = ""] = prefix.split("/");
  return addr.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function prefixBits(prefix: string): number {
  return Number(prefix.split("/")[1] ?? 0);
}

/** Upstream's RouteList: main table unicast routes, protocols in filter order, then a stable sort. */
export function copiedRoutes(routes: readonly IpRoute[]): IpRoute[] {
  const unicast = routes.filter((r) => r.type === 1);
  const ordered = COPIED_PROTOCOLS.flatMap((p) => unicast.filter((r) => r.protocol === p));
  return ordered.sort(
    (a, b) =>
      ipv4Bytes(a.dst) - ipv4Bytes(b.dst) || prefixBits(a.dst) - prefixBits(b.dst) || a.metric - b.metric,
  );
}

/** A route in apf.json form; dev "" and protocol/scope 0 are left for the renderer to omit. */
export function toPodRoute(r: IpRoute): ApfRoute {
  const route: ApfRoute = { dst: r.dst, gw: r.gateway, dev: r.dev };
  const protocol = protocolName(r.protocol);
  if (protocol !== undefined) route.protocol = protocol;
  const scope = scopeName(r.scope);
  if (scope !== undefined) route.scope = scope;
  return route;
}

/** "a.b.c.d/n" with an IPv4 address and 0 ≤ n ≤ 32, else undefined. */
export function parseIpv4Cidr(cidr: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  if (m === null) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  return `${octets.join(".")}/${bits}`;
}

async function inspectHost(opts: InspectOptions): Promise<{ workerNodeIp: string; dedicated: boolean }> {
  const hostLabel = opts.hostNetns ?? "host";
  const primary = await findPrimaryInterface(opts.hostNetns, hostLabel);
  const hostInterface = opts.hostInterface || primary.dev;
  const link = await findLink(opts.hostNetns, hostInterface);
  if (link === undefined) throw new Error(`host interface ${hostInterface} not found in netns ${hostLabel}`);
  const addr = link.addrs.find((a) => a.family === "inet");
  if (addr === undefined) throw new Error(`no IPv4 address on host interface ${hostInterface}`);
  return { workerNodeIp: `${addr.local}/${addr.prefixlen}`, dedicated: hostInterface !== primary.dev };
}

async function inspect(opts: InspectOptions): Promise<PodNetworkConfig> {
  checkVxlanPort(opts.vxlanPort);
  const vni = vniFor(opts.index, opts.vxlanMinId);
  const host = await inspectHost(opts);

  const ns = opts.netnsPath;
  const routes = await mainRoutes(ns);
  const primary = await findPrimaryInterface(ns, ns);
  const dev = primary.dev;
  const link = await findLink(ns, dev);
  if (link === undefined) throw new Error(`pod interface ${dev} not found`);
  const ipv4 = link.addrs.filter((a) => a.family === "inet");
  if (ipv4.length !== 1) throw new Error(`${ipv4.length} IPv4 addresses on ${dev}, expected 1`);
  const podIp = ipv4[0];

  const podRoutes = copiedRoutes(routes).map(toPodRoute);
  for (const cidr of opts.podSubnetCidrs ?? []) {
    const dst = parseIpv4Cidr(cidr);
    if (dst === undefined) {
      opts.logger?.warn({ cidr }, "skipping invalid pod subnet CIDR");
      continue;
    }
    podRoutes.push({ dst, gw: primary.gateway, dev });
  }

  const neighbors: ApfNeighbor[] = (await permanentNeighbors(ns, dev)).map((n) => ({
    ip: n.dst,
    "hw-addr": n.lladdr,
    dev: n.dev,
    state: "permanent",
  }));

  return {
    podip: `${podIp.local}/${podIp.prefixlen}`,
    "pod-hw-addr": link.address,
    interface: dev,
    "worker-node-ip": host.workerNodeIp,
    "tunnel-type": "vxlan",
    routes: podRoutes.length > 0 ? podRoutes : null,
    neighbors: neighbors.length > 0 ? neighbors : null,
    mtu: link.mtu,
    index: opts.index,
    "vxlan-port": opts.vxlanPort,
    // Go's omitempty drops a zero VNI (min id 0, index 0).
    ...(vni !== 0 ? { "vxlan-id": vni } : {}),
    dedicated: host.dedicated,
    "external-net-via-pod-vm": opts.externalNetViaPodVm ?? false,
  };
}

/** Describes the pod netns for apf.json; errors read `inspect pod netns <path>: <what failed>`. */
export async function inspectPodNetwork(opts: InspectOptions): Promise<PodNetworkConfig> {
  try {
    return await inspect(opts);
  } catch (err) {
    throw new Error(`inspect pod netns ${opts.netnsPath}: ${(err as Error).message}`, { cause: err });
  }
}
