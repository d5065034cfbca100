// EXTERNAL_NET_VIA_PODVM (experimental upstream, AWS MultiNic): move the VM's secondary NIC into the
// pod netns and send the pod's default route through it (docs/upstream-compat.md §4.3 step 4, CAA
// `pkg/podnetwork/common.go` setupExternalNetwork).
import { run } from "./exec.ts";
import type { IpAddress, IpLink, IpRoute } from "./iproute-parse.ts";
import { links, mainRoutes } from "./iproute.ts";
import { moveLink } from "./vxlan-link.ts";

// Upstream's isInterfaceFilteredOut: virtual, loopback and other non-relevant interfaces.
const FILTERED_PREFIXES = ["veth", "lo", "docker", "podman", "br-", "cni", "tunl", "tun", "tap"];

export interface SecondaryInterface {
  dev: string;
  addr: IpAddress;
  gateway: string;
}

function firstIpv4(link: IpLink | undefined): IpAddress | undefined {
  return link?.addrs.find((a) => a.family === "inet");
}

/**
 * The first non-filtered interface other than the primary with an IPv4 address and either its own
 * default route, or (upstream's check) an address with the same prefix length as the primary's, in
 * which case the primary's default gateway is used.
 */
export function findSecondary(
  all: readonly IpLink[],
  routes: readonly IpRoute[],
  primary: string,
): SecondaryInterface | undefined {
  const defaultOn = (dev: string) => routes.find((r) => r.dst === "0.0.0.0/0" && r.dev === dev);
  const primaryAddr = firstIpv4(all.find((l) => l.ifname === primary));
  const primaryRoute = defaultOn(primary);
  for (const link of all) {
    if (link.ifname === primary || FILTERED_PREFIXES.some((p) => link.ifname.startsWith(p))) continue;
    const addr = firstIpv4(link);
    if (addr === undefined) continue;
    const own = defaultOn(link.ifname);
    if (own !== undefined) return { dev: link.ifname, addr, gateway: own.gateway };
    if (primaryAddr?.prefixlen === addr.prefixlen && primaryRoute !== undefined) {
      return { dev: link.ifname, addr, gateway: primaryRoute.gateway };
    }
  }
  return undefined;
}

export async function setupExternalNetwork(opts: {
  vmNetns: string | undefined;
  podNetns: string;
  primary: string;
}): Promise<SecondaryInterface> {
  const [all, routes] = await Promise.all([links(opts.vmNetns), mainRoutes(opts.vmNetns)]);
  const sec = findSecondary(all, routes, opts.primary);
  if (sec === undefined) throw new Error("no secondary interface with an IPv4 address found");
  const pod = opts.podNetns;
  await moveLink(opts.vmNetns, sec.dev, pod);
  await run(["ip", "addr", "add", `${sec.addr.local}/${sec.addr.prefixlen}`, "dev", sec.dev], { netns: pod });
  await run(["ip", "link", "set", "dev", sec.dev, "up"], { netns: pod });
  for (const r of (await mainRoutes(pod)).filter((r) => r.dst === "0.0.0.0/0")) {
    await run(
      [
        "ip",
        "route",
        "del",
        "0.0.0.0/0",
        ...(r.gateway ? ["via", r.gateway] : []),
        ...(r.dev ? ["dev", r.dev] : []),
      ],
      {
        netns: pod,
      },
    );
  }
  await run(
    ["ip", "route", "add", "0.0.0.0/0", ...(sec.gateway ? ["via", sec.gateway] : []), "dev", sec.dev],
    {
      netns: pod,
    },
  );
  return sec;
}
