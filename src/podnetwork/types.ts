// The apf.json `pod-network` types are owned by src/userdata (docs/upstream-compat.md §4.4). inspect produces
// exactly that type; the tunnel ends accept a looser shape that it (and a forwarder's own copy)
// is assignable to, where a route's dev and a neighbour's fields may be absent — a neighbour
// without a usable state or MAC is refused at setup, as upstream's NeighborAdd does.
import type { ApfNeighbor, ApfRoute, PodNetworkConfig as ApfPodNetwork } from "../userdata/apf-config.ts";

export type { ApfPodNetwork };
export type { NeighborState, RouteProtocol, RouteScope } from "../userdata/apf-config.ts";

export type PodRoute = Omit<ApfRoute, "dev"> & { dev?: string };
export type PodNeighbor = Pick<ApfNeighbor, "ip"> & Partial<Omit<ApfNeighbor, "ip">>;

/** What setupWorkerTunnel / setupPodNode accept. */
export type PodNetworkConfig = Omit<ApfPodNetwork, "routes" | "neighbors"> & {
  routes: PodRoute[] | null;
  neighbors: PodNeighbor[] | null;
};
