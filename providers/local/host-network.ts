// What the host's network already uses, so that the local provider never puts its bridge on a
// range the host routes (a bridge holding the host's gateway address cuts the host off and makes
// the daemon dial itself). Bridges of ours are told apart by their alias, which names the state
// directory that owns them.
import { stat } from "node:fs/promises";
import { allRoutes, links } from "../../src/podnetwork/iproute.ts";
import type { IpLink, IpRoute } from "../../src/podnetwork/iproute-parse.ts";
import { networkOf, overlaps, parseSubnet, type Subnet } from "./addresses.ts";

const ALIAS_PREFIX = "peerpod-caa local provider, state ";
/** IFALIASZ is 256 bytes with the terminating NUL. */
const MAX_ALIAS = 255;

/** The alias our bridge carries; a state directory too long for it gets a marker without one. */
export function bridgeAlias(stateDir: string): string {
  const alias = ALIAS_PREFIX + stateDir;
  return Buffer.byteLength(alias) <= MAX_ALIAS ? alias : ALIAS_PREFIX.trimEnd();
}

export interface HostNetwork {
  links: IpLink[];
  routes: IpRoute[];
}

export async function readHostNetwork(): Promise<HostNetwork> {
  const [l, r] = await Promise.all([links(undefined), allRoutes(undefined)]);
  return { links: l, routes: r };
}

/** One use of a range by an interface that is not ours. */
export interface Clash {
  iface: string;
  /** e.g. "address 192.0.2.2/24" or "route 10.0.0.0/8". */
  what: string;
}

/**
 * Addresses and routes of interfaces not in `ours` that overlap `subnet`, in every routing table.
 * Default routes are left out (they cover every range); routes without a device (blackhole,
 * unreachable) count.
 */
export function clashesWith(subnet: Subnet, host: HostNetwork, ours: ReadonlySet<string>): Clash[] {
  const out: Clash[] = [];
  for (const link of host.links) {
    if (ours.has(link.ifname)) continue;
    for (const a of link.addrs) {
      if (a.family !== "inet" || !overlaps(subnet, networkOf(a.local, a.prefixlen))) continue;
      out.push({ iface: link.ifname, what: `address ${a.local}/${a.prefixlen}` });
    }
  }
  for (const r of host.routes) {
    // Local and broadcast routes only repeat the addresses above.
    if (r.dst === "0.0.0.0/0" || r.type === 2 || r.type === 3 || (r.dev !== "" && ours.has(r.dev))) continue;
    const dst = parseRouteDst(r.dst);
    if (!dst || !overlaps(subnet, dst)) continue;
    const what = `route ${r.dst}`;
    const iface = r.dev || "(no device)";
    if (!out.some((c) => c.iface === iface && c.what === what)) out.push({ iface, what });
  }
  return out;
}

function parseRouteDst(dst: string): Subnet | undefined {
  const [addr, len] = dst.split("/");
  const prefix = Number(len);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(addr ?? "") || !Number.isInteger(prefix)) return undefined;
  return prefix >= 8 && prefix <= 30 ? parseSubnet(dst) : networkOf(addr, prefix);
}

export function describeClashes(clashes: readonly Clash[]): string {
  return clashes.map((c) => `${c.what} on ${c.iface}`).join(", ");
}

/** Bridges on this host that are, or were, the local provider's. */
export interface OurBridges {
  /** Owned by this state directory (any name), or of our name without another live owner. */
  mine: IpLink[];
  /** Owned by a state directory that no longer exists: left by a daemon that is gone. */
  stale: IpLink[];
  /** Our bridge name, but owned by another state directory that still exists (another daemon). */
  taken?: { bridge: string; owner: string };
}

export async function findOurBridges(
  host: HostNetwork,
  stateDir: string,
  bridge: string,
): Promise<OurBridges> {
  const out: OurBridges = { mine: [], stale: [] };
  for (const link of host.links) {
    if (link.kind !== "bridge") continue;
    if (link.alias === bridgeAlias(stateDir)) {
      out.mine.push(link);
      continue;
    }
    const owner = link.alias.startsWith(ALIAS_PREFIX) ? link.alias.slice(ALIAS_PREFIX.length) : "";
    const ownerGone = owner.startsWith("/") && !(await stat(owner).catch(() => undefined));
    if (ownerGone) out.stale.push(link);
    else if (link.ifname !== bridge) continue;
    else if (owner.startsWith("/")) out.taken = { bridge, owner };
    else out.mine.push(link);
  }
  return out;
}

/** Our bridges and the ports attached to them: their addresses and routes are ours. */
export function ourInterfaces(host: HostNetwork, bridges: readonly IpLink[]): Set<string> {
  const names = new Set(bridges.map((b) => b.ifname));
  for (const link of host.links) if (names.has(link.master)) names.add(link.ifname);
  return names;
}
