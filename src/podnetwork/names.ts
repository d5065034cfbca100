// Upstream's text forms of route protocol / scope and neighbour state (CAA `pkg/util/netops`,
// vishvananda/netlink String()): the pod VM's forwarder rejects anything else (docs/upstream-compat.md §4.4).
import { NEIGHBOR_STATES, ROUTE_PROTOCOLS, ROUTE_SCOPES } from "../userdata/apf-config.ts";
import type { NeighborState, RouteProtocol, RouteScope } from "./types.ts";

/** Kernel RTPROT_* numbers of the protocols upstream copies from a pod netns, in its filter order. */
export const COPIED_PROTOCOLS: readonly number[] = [
  4 /* static */, 3 /* boot */, 16 /* dhcp */, 2 /* kernel */,
];

const PROTOCOL_NAMES: Record<number, RouteProtocol> = { 2: "kernel", 3: "boot", 4: "static", 16: "dhcp" };
export const PROTOCOL_NUMBERS: Record<RouteProtocol, number> = { kernel: 2, boot: 3, static: 4, dhcp: 16 };
const SCOPE_NAMES: Record<number, RouteScope> = {
  0: "universe",
  200: "site",
  253: "link",
  254: "host",
  255: "nowhere",
};

/** The JSON name, or undefined for 0 (Go omitempty drops it). */
export function protocolName(protocol: number): RouteProtocol | undefined {
  if (protocol === 0) return undefined;
  const name = PROTOCOL_NAMES[protocol];
  if (name === undefined) throw new Error(`route protocol ${protocol} has no upstream name`);
  return name;
}

/** The JSON name, or undefined for universe (0), which Go's omitempty drops. */
export function scopeName(scope: number): RouteScope | undefined {
  if (scope === 0) return undefined;
  const name = SCOPE_NAMES[scope];
  if (name === undefined) throw new Error(`route scope ${scope} has no upstream name`);
  return name;
}

export function isRouteProtocol(v: unknown): v is RouteProtocol {
  return (ROUTE_PROTOCOLS as readonly unknown[]).includes(v);
}

export function isRouteScope(v: unknown): v is RouteScope {
  return (ROUTE_SCOPES as readonly unknown[]).includes(v);
}

/** A state a neighbour can be added with: every upstream name except "none" (state 0). */
export function isAddableNeighborState(v: unknown): v is Exclude<NeighborState, "none"> {
  return v !== "none" && (NEIGHBOR_STATES as readonly unknown[]).includes(v);
}
