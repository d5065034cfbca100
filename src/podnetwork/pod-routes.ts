// Turns apf.json routes and neighbours back into iproute2 commands on the VM side, as upstream's
// netops RouteAdd / NeighborAdd do (docs/upstream-compat.md §4.3 step 3).
import { isIP } from "node:net";
import { PROTOCOL_NUMBERS, isAddableNeighborState, isRouteProtocol, isRouteScope } from "./names.ts";
import type { PodNeighbor, PodRoute } from "./types.ts";

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Gateway-less routes first: a gateway route fails until its gateway is reachable (Calico). */
export function orderRoutes(routes: readonly PodRoute[]): PodRoute[] {
  return [...routes.filter((r) => !r.gw), ...routes.filter((r) => r.gw)];
}

/** `ip route add …` argv. A route without gateway gets scope link, as upstream's RouteAdd forces. */
export function routeAddArgs(r: PodRoute): string[] {
  if (!/^[\d.]+\/\d+$/.test(r.dst) || isIP(r.dst.split("/")[0] ?? "") !== 4) {
    throw new Error(`route destination ${JSON.stringify(r.dst)} is not an IPv4 prefix`);
  }
  if (r.protocol !== undefined && !isRouteProtocol(r.protocol)) {
    throw new Error(`unknown route protocol: ${String(r.protocol)}`);
  }
  if (r.scope !== undefined && !isRouteScope(r.scope))
    throw new Error(`unknown route scope: ${String(r.scope)}`);
  const args = ["ip", "route", "add", r.dst];
  if (r.gw) {
    if (isIP(r.gw) !== 4) throw new Error(`route gateway ${JSON.stringify(r.gw)} is not an IPv4 address`);
    args.push("via", r.gw);
  }
  if (r.dev) args.push("dev", r.dev);
  // Absent means 0, which netlink's RouteAdd (like iproute2) turns into its default, boot.
  if (r.protocol !== undefined) args.push("proto", String(PROTOCOL_NUMBERS[r.protocol]));
  const scope = r.gw ? (r.scope ?? "universe") : "link";
  if (scope !== "universe") args.push("scope", scope);
  return args;
}

export function describeRoute(r: PodRoute): string {
  return `${r.dst}${r.gw ? ` via ${r.gw}` : ""}${r.dev ? ` dev ${r.dev}` : ""}`;
}

/** `ip neigh add …` argv; upstream refuses a missing/none state and a malformed MAC. */
export function neighborAddArgs(n: PodNeighbor): string[] {
  if (isIP(n.ip) !== 4) throw new Error(`neighbor IP ${JSON.stringify(n.ip)} is not an IPv4 address`);
  if (!n.dev) throw new Error("failed to add a new neighbor entry: no device name");
  if (!MAC.test(n["hw-addr"] ?? "")) {
    throw new Error(
      `failed to add a new neighbor entry: invalid hardware address ${JSON.stringify(n["hw-addr"] ?? "")}`,
    );
  }
  if (!isAddableNeighborState(n.state)) {
    throw new Error(
      `failed to add a new neighbor entry: invalid neighbor state ${JSON.stringify(n.state ?? "none")}`,
    );
  }
  return ["ip", "neigh", "add", n.ip, "lladdr", n["hw-addr"] ?? "", "dev", n.dev, "nud", n.state];
}
