// Upstream's text forms of route protocol / scope and neighbour state (CAA `pkg/util/netops`,
// vishvananda/netlink String()): the pod VM's forwarder rejects anything else (upstream-caa.md §4.4).
import type { NeighborStateName, RouteProtocolName, RouteScopeName } from "./types.ts";

/** Kernel RTPROT_* numbers of the protocols upstream copies from a pod netns, in its filter order. */
export const COPIED_PROTOCOLS: readonly number[] = [
  4 /* static */, 3 /* boot */, 16 /* dhcp */, 2 /* kernel */,
];

const PROTOCOL_NAMES: Record<number, RouteProtocolName> = { 2: "kernel", 3: "boot", 4: "static", 16: "dhcp" };
const SCOPE_NAMES: Record<number, RouteScopeName> = {
  0: "universe",
  200: "site",
  253: "link",
  254: "host",
  255: "nowhere",
};

/** The JSON name, or undefined for 0 (Go omitempty drops it). */
export function protocolName(protocol: number): RouteProtocolName | undefined {
  if (protocol === 0) return undefined;
  const name = PROTOCOL_NAMES[protocol];
  if (name === undefined) throw new Error(`route protocol ${protocol} has no upstream name`);
  return name;
}

/** The JSON name, or undefined for universe (0), which Go's omitempty drops. */
export function scopeName(scope: number): RouteScopeName | undefined {
  if (scope === 0) return undefined;
  const name = SCOPE_NAMES[scope];
  if (name === undefined) throw new Error(`route scope ${scope} has no upstream name`);
  return name;
}

/** iproute2 `nud` keywords accepted when adding a neighbour; upstream refuses "none". */
export const NEIGHBOR_STATES: readonly NeighborStateName[] = [
  "incomplete",
  "reachable",
  "stale",
  "delay",
  "probe",
  "failed",
  "noarp",
  "permanent",
];

export function isRouteProtocolName(v: unknown): v is RouteProtocolName {
  return typeof v === "string" && Object.values(PROTOCOL_NAMES).includes(v as RouteProtocolName);
}

export function isRouteScopeName(v: unknown): v is RouteScopeName {
  return typeof v === "string" && Object.values(SCOPE_NAMES).includes(v as RouteScopeName);
}
