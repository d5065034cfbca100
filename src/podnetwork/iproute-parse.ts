// Parsers for `ip -j` output. Route fields are read as numbers whether iproute2 printed names
// (default) or numbers (`-N`), so the result does not depend on /etc/iproute2/rt_* tables.

export interface IpRoute {
  /** Normalised prefix: "0.0.0.0/0" for default, "/32" added to host routes. */
  dst: string;
  /** "" when absent (direct or multipath route). */
  gateway: string;
  /** "" when absent (multipath, blackhole). */
  dev: string;
  type: number;
  protocol: number;
  scope: number;
  metric: number;
}

export interface IpAddress {
  family: "inet" | "inet6";
  local: string;
  prefixlen: number;
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  address: string;
  /** linkinfo.info_kind (needs `-d`), "" when absent. */
  kind: string;
  /** `ip link set … alias` text (ifalias), "" when unset. */
  alias: string;
  /** The bridge (or bond) this link is a port of, "" when none. */
  master: string;
  addrs: IpAddress[];
  vxlan?: { id: number; remote: string; port: number };
}

export interface IpNeighbor {
  dst: string;
  lladdr: string;
  dev: string;
  states: string[];
}

const ROUTE_TYPES: Record<string, number> = {
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
  nat: 10,
};
const ROUTE_PROTOCOLS: Record<string, number> = {
  unspec: 0,
  redirect: 1,
  kernel: 2,
  boot: 3,
  static: 4,
  ra: 9,
  dhcp: 16,
};
const ROUTE_SCOPES: Record<string, number> = {
  global: 0,
  universe: 0,
  site: 200,
  link: 253,
  host: 254,
  nowhere: 255,
};

type Json = Record<string, unknown>;

function records(json: unknown, what: string): Json[] {
  if (!Array.isArray(json)) throw new Error(`${what}: expected a JSON array from ip -j`);
  return json.filter((x): x is Json => typeof x === "object" && x !== null);
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** A numeric field printed either as a number, a numeric string, or a name from `table`. */
function num(v: unknown, table: Record<string, number>, fallback: number): number {
  if (typeof v === "number") return v;
  if (typeof v !== "string" || v === "") return fallback;
  if (/^\d+$/.test(v)) return Number(v);
  if (/^0x[0-9a-f]+$/i.test(v)) return Number.parseInt(v, 16);
  return table[v] ?? -1;
}

/** "default" → "0.0.0.0/0", "a.b.c.d" → "a.b.c.d/32" (netip.Prefix text, as upstream writes it). */
function normalisePrefix(dst: string): string {
  if (dst === "default" || dst === "") return "0.0.0.0/0";
  if (dst.includes("/")) return dst;
  return dst.includes(":") ? `${dst}/128` : `${dst}/32`;
}

export function parseRoutes(json: unknown): IpRoute[] {
  return records(json, "ip route").map((r) => ({
    dst: normalisePrefix(str(r.dst)),
    gateway: str(r.gateway),
    dev: str(r.dev),
    // iproute2 omits "type" for unicast unless -d is given.
    type: num(r.type, ROUTE_TYPES, 1),
    protocol: num(r.protocol, ROUTE_PROTOCOLS, 0),
    scope: num(r.scope, ROUTE_SCOPES, 0),
    metric: typeof r.metric === "number" ? r.metric : 0,
  }));
}

export function parseLinks(json: unknown): IpLink[] {
  return records(json, "ip link").map((l) => {
    const linkinfo = (l.linkinfo ?? {}) as Json;
    const data = (linkinfo.info_data ?? {}) as Json;
    const kind = str(linkinfo.info_kind);
    const addrs = Array.isArray(l.addr_info)
      ? (l.addr_info as Json[])
          .filter((a) => a.family === "inet" || a.family === "inet6")
          .map((a) => ({
            family: a.family as "inet" | "inet6",
            local: str(a.local),
            prefixlen: typeof a.prefixlen === "number" ? a.prefixlen : 0,
          }))
      : [];
    const link: IpLink = {
      ifindex: typeof l.ifindex === "number" ? l.ifindex : 0,
      ifname: str(l.ifname),
      mtu: typeof l.mtu === "number" ? l.mtu : 0,
      address: str(l.address),
      kind,
      alias: str(l.ifalias),
      master: str(l.master),
      addrs,
    };
    if (kind === "vxlan") {
      link.vxlan = {
        id: typeof data.id === "number" ? data.id : -1,
        remote: str(data.remote),
        port: typeof data.port === "number" ? data.port : 0,
      };
    }
    return link;
  });
}

export function parseNeighbors(json: unknown, dev = ""): IpNeighbor[] {
  return records(json, "ip neigh").map((n) => ({
    dst: str(n.dst),
    lladdr: str(n.lladdr),
    // `ip neigh show dev X` leaves "dev" out of each entry.
    dev: str(n.dev) || dev,
    states: Array.isArray(n.state) ? n.state.map((s) => String(s).toLowerCase()) : [],
  }));
}
