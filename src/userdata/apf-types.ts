// apf.json types: upstream forwarder.Config and tunneler.Config, keys as the Go json tags
// (CAA pkg/forwarder/forwarder.go, pkg/podnetwork/tunneler/tunneler.go; docs/upstream-compat.md §4.4).

/** netops.RouteProtocol names APF accepts. */
export const ROUTE_PROTOCOLS = ["static", "boot", "dhcp", "kernel"] as const;
/** netops.RouteScope names; "universe" is scope 0 and is omitted when written. */
export const ROUTE_SCOPES = ["universe", "site", "link", "host", "nowhere"] as const;
/** netops.NeighborState names; "none" is state 0 and is omitted when written. */
export const NEIGHBOR_STATES = [
  "none",
  "incomplete",
  "reachable",
  "stale",
  "delay",
  "probe",
  "failed",
  "noarp",
  "permanent",
] as const;

export type RouteProtocol = (typeof ROUTE_PROTOCOLS)[number];
export type RouteScope = (typeof ROUTE_SCOPES)[number];
export type NeighborState = (typeof NEIGHBOR_STATES)[number];

export interface ApfRoute {
  /** netip.Prefix text, "" for none. */
  dst: string;
  /** netip.Addr text, "" for no gateway. */
  gw: string;
  dev: string;
  protocol?: RouteProtocol;
  scope?: RouteScope;
}

export interface ApfNeighbor {
  ip: string;
  "hw-addr": string;
  dev: string;
  state: NeighborState;
}

export interface PodNetworkConfig {
  /** "10.244.1.7/24" */
  podip: string;
  "pod-hw-addr": string;
  interface: string;
  /** "192.168.122.63/24" (with prefix) */
  "worker-node-ip": string;
  "tunnel-type": string;
  routes: ApfRoute[] | null;
  neighbors: ApfNeighbor[] | null;
  mtu: number;
  index: number;
  "vxlan-port"?: number;
  "vxlan-id"?: number;
  dedicated: boolean;
  "external-net-via-pod-vm": boolean;
}

export interface ApfConfig {
  "pod-network": PodNetworkConfig | null;
  "pod-namespace": string;
  "pod-name": string;
  "tls-server-key"?: string;
  "tls-server-cert"?: string;
  "tls-client-ca"?: string;
  "tls-min-version"?: string;
  "tls-cipher-suites"?: string[];
  /** []byte fields, base64 as Go encodes them; unused by current upstream. */
  "sc-pp-prv"?: string;
  "sc-wn-pub"?: string;
}
