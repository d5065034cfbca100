// The apf.json `pod-network` object, with upstream's JSON keys and omission rules
// (upstream-caa.md §4.4; CAA `pkg/podnetwork/tunneler/tunneler.go`, `pkg/util/netops/netops.go`).
// Key order matters for byte-identical output: it follows the Go struct field order.

/** Route protocols upstream reads from a pod netns (netlink RouteProtocol.String()). */
export type RouteProtocolName = "static" | "boot" | "dhcp" | "kernel";
/** netlink Scope.String() names; "universe" (0) is omitted from the JSON. */
export type RouteScopeName = "universe" | "site" | "link" | "host" | "nowhere";
/** Neighbour states upstream knows by name. */
export type NeighborStateName =
  "incomplete" | "reachable" | "stale" | "delay" | "probe" | "failed" | "noarp" | "permanent";

export interface PodRoute {
  /** netip.Prefix text, "0.0.0.0/0" for the default route, "a.b.c.d/32" for a host route. */
  dst: string;
  /** netip.Addr text; "" when the route has no gateway (Go does not omit a zero netip.Addr). */
  gw: string;
  dev?: string;
  protocol?: RouteProtocolName;
  scope?: RouteScopeName;
}

export interface PodNeighbor {
  ip: string;
  "hw-addr"?: string;
  dev?: string;
  state?: NeighborStateName;
}

export interface PodNetworkConfig {
  /** "10.244.1.7/24" */
  podip: string;
  "pod-hw-addr": string;
  interface: string;
  /** "192.168.122.63/24" */
  "worker-node-ip": string;
  "tunnel-type": string;
  routes: PodRoute[] | null;
  neighbors: PodNeighbor[] | null;
  mtu: number;
  index: number;
  "vxlan-port"?: number;
  "vxlan-id"?: number;
  dedicated: boolean;
  "external-net-via-pod-vm": boolean;
}
